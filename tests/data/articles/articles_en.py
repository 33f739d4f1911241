"""English articles of the labelled set, written for this project (see README.md beside)."""

ARTICLES = [
    {
        "id": "en-housing-riverside",
        "org": "Riverside Borough Council",
        "topic": "housing",
        "title": "Council approves 240 affordable homes on the old tram depot site",
        "paragraphs": [
            "The borough council voted on Tuesday to build 240 affordable homes on the former tram depot, after two years of consultation with tenants and neighbours.",
            "Half of the flats will be offered at social rent, and the rest to key workers such as nurses, teachers and bus drivers who currently commute from outside the borough.",
            "Construction is expected to start next spring. The council will publish the architects' drawings and a timetable of public meetings in the coming weeks.",
        ],
    },
    {
        "id": "en-flood-plan",
        "org": "Kellmouth City Council",
        "topic": "climate",
        "title": "A new flood protection plan for the lower town",
        "paragraphs": [
            "After the floods of last winter, the city has adopted a protection plan that combines raised embankments with green spaces able to absorb heavy rain.",
            "Engineers mapped every street that flooded in the past decade. The plan gives priority to the school, the clinic and the two care homes near the river.",
            "Residents can consult the flood maps at the town hall and online, and sign up for text alerts when the river level rises.",
        ],
    },
    {
        "id": "en-bus-lanes",
        "org": "Northam Metropolitan Council",
        "topic": "transport",
        "title": "Three new bus lanes cut journey times on the ring road",
        "paragraphs": [
            "Since the three bus lanes opened in September, journeys across the ring road have become eight minutes shorter at peak hours.",
            "Passenger numbers on the routes rose by eleven per cent. Cyclists may also use the lanes, which are separated from car traffic by a low kerb.",
            "The council will now study a fourth lane towards the hospital and asks commuters to answer a short survey about their journeys.",
        ],
    },
    {
        "id": "en-library-festival",
        "org": "Riverside Borough Council",
        "topic": "culture",
        "title": "Libraries open late for the winter reading festival",
        "paragraphs": [
            "All seven public libraries will stay open until ten in the evening during the winter reading festival, with readings by local authors and storytelling for children.",
            "This year the festival invites poets writing in the languages spoken in the borough, from Polish and Urdu to Somali and Portuguese.",
            "Entry is free. Visitors are encouraged to bring a book they have finished to the exchange shelves in every library.",
        ],
    },
    {
        "id": "en-participatory-budget",
        "org": "Kellmouth City Council",
        "topic": "participation",
        "title": "Residents choose 31 projects in the participatory budget",
        "paragraphs": [
            "More than nine thousand residents voted in this year's participatory budget, which sets aside two million euros for projects proposed by citizens.",
            "The winning proposals include shaded playgrounds, a repair café, new benches along the canal and a community garden behind the station.",
            "Every project will be carried out within eighteen months, and a public map will show how far each one has progressed.",
        ],
    },
    {
        "id": "en-water-meters",
        "org": "Northam Metropolitan Council",
        "topic": "water",
        "title": "Smart water meters help households find leaks",
        "paragraphs": [
            "The municipal water company has installed smart meters in four thousand homes. The meters send an alert when consumption stays high through the night, a sign of a leak.",
            "In the first six months, the alerts helped households repair more than three hundred leaks, saving water and lowering bills.",
            "The meters will be offered to every household by the end of next year, free of charge.",
        ],
    },
    {
        "id": "en-youth-council",
        "org": "Riverside Borough Council",
        "topic": "youth",
        "title": "Young people elect their own youth council",
        "paragraphs": [
            "Pupils from twelve secondary schools elected twenty members of the new youth council, which will advise the mayor on matters that affect young people.",
            "Its first tasks are the opening hours of sports facilities and safe routes to school. The youth council meets once a month in the council chamber.",
            "Meetings are open to the public and the minutes are published on the borough's website.",
        ],
    },
    {
        "id": "en-heatwave",
        "org": "Kellmouth City Council",
        "topic": "health",
        "title": "Cool rooms and water fountains for the heatwave",
        "paragraphs": [
            "With temperatures above thirty-five degrees forecast for the week, the city opens cool rooms in libraries and community centres for older people and families with babies.",
            "Forty drinking fountains have been added in parks and squares. Volunteers will call isolated residents every day to check that they are well.",
            "A free helpline answers questions about heat and health in several languages.",
        ],
    },
    {
        "id": "en-digital-services",
        "org": "Northam Metropolitan Council",
        "topic": "digital",
        "title": "Renew a parking permit online in five minutes",
        "paragraphs": [
            "Residents can now renew their parking permit, report a broken streetlight or book a bulky waste collection from a single online account.",
            "The new services were tested with older residents and people with disabilities, and the forms work on phones as well as computers.",
            "Those who prefer to come in person can still be helped at the customer service desks of the civic centre.",
        ],
    },
    {
        "id": "en-refugee-welcome",
        "org": "Riverside Borough Council",
        "topic": "migration",
        "title": "A welcome centre for refugee families",
        "paragraphs": [
            "A welcome centre for refugee families has opened in the former post office, with advice on housing, schools, health care and work.",
            "Interpreters are present every morning, and local associations run language classes and a children's corner in the afternoons.",
            "The centre was funded jointly by the borough, the regional government and a European programme for the integration of migrants.",
        ],
    },
    {
        "id": "en-equal-pay",
        "org": "Kellmouth City Council",
        "topic": "gender",
        "title": "City closes its gender pay gap",
        "paragraphs": [
            "The city's annual report shows that women and men employed by the municipality are now paid the same for the same work, five years after an equal pay audit.",
            "The audit led to new salary scales and to more women in senior posts, including the heads of finance and of urban planning.",
            "The council will share its method with other local governments at the regional conference in May.",
        ],
    },
    {
        "id": "en-local-market",
        "org": "Northam Metropolitan Council",
        "topic": "economy",
        "title": "The covered market reopens with forty local traders",
        "paragraphs": [
            "After eighteen months of renovation, the covered market has reopened with forty stalls run by local farmers, bakers and craftspeople.",
            "Rents were kept low for young traders starting a business, and the market now closes later on Fridays.",
            "The renovation restored the iron roof built in 1896 and added solar panels that provide a third of the market's electricity.",
        ],
    },
    {
        "id": "en-elections-turnout",
        "org": "Riverside Borough Council",
        "topic": "elections",
        "title": "Local elections: how to register before the deadline",
        "paragraphs": [
            "Residents who want to vote in the local elections in May must register by the end of March. Citizens of other countries living in the borough may also be entitled to vote.",
            "Registration takes a few minutes online. Polling stations will be open from seven in the morning to ten at night.",
            "Turnout at the last local elections was thirty-four per cent, and the council hopes more young voters will take part this time.",
        ],
    },
    {
        "id": "en-tree-planting",
        "org": "Kellmouth City Council",
        "topic": "climate",
        "title": "Ten thousand trees planted to cool the city",
        "paragraphs": [
            "Volunteers and school classes planted ten thousand trees this winter along streets, in school yards and on the edges of industrial estates.",
            "Trees lower the temperature of the streets on summer days and absorb rain that would otherwise flood the drains.",
            "The city has chosen species that tolerate drought, and neighbours can adopt a tree and water it during dry spells.",
        ],
    },
]
