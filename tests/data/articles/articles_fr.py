"""Articles français du jeu étiqueté, écrits pour ce projet (voir README.md à côté)."""

ARTICLES = [
    {
        "id": "fr-logement-social",
        "org": "Ville de Saint-Aubin-sur-Loire",
        "topic": "logement",
        "title": "Le conseil municipal adopte un plan pour le logement social",
        "paragraphs": [
            "Réuni lundi soir, le conseil municipal a adopté un plan qui prévoit la construction de 180 logements sociaux d'ici 2030, répartis dans tous les quartiers de la ville.",
            "Les nouveaux immeubles seront économes en énergie et une partie des appartements sera réservée aux jeunes ménages et aux personnes âgées.",
            "Les habitants pourront donner leur avis lors de trois réunions publiques organisées à la mairie et dans les maisons de quartier.",
        ],
    },
    {
        "id": "fr-inondations",
        "org": "Communauté de communes du Val d'Orne",
        "topic": "climat",
        "title": "Inondations : les communes renforcent la prévention",
        "paragraphs": [
            "Après les crues de l'automne dernier, les communes du Val d'Orne ont décidé de restaurer les zones humides qui retiennent l'eau en amont des villages.",
            "Un système d'alerte par SMS préviendra les habitants dès que le niveau de la rivière dépassera le seuil de vigilance.",
            "Les élus ont également voté une aide aux propriétaires qui installent des protections contre l'eau dans leurs maisons.",
        ],
    },
    {
        "id": "fr-transports-gratuits",
        "org": "Métropole de Belvédère",
        "topic": "transports",
        "title": "Les transports en commun deviennent gratuits le week-end",
        "paragraphs": [
            "À partir du premier samedi de mars, les bus et les tramways de la métropole seront gratuits tous les week-ends pour l'ensemble des voyageurs.",
            "La mesure vise à réduire la circulation automobile dans le centre historique et à faciliter l'accès aux commerces et aux équipements culturels.",
            "Une évaluation sera présentée au conseil métropolitain après une année d'expérimentation.",
        ],
    },
    {
        "id": "fr-bibliotheques",
        "org": "Ville de Saint-Aubin-sur-Loire",
        "topic": "culture",
        "title": "Les bibliothèques municipales élargissent leurs horaires",
        "paragraphs": [
            "Les quatre bibliothèques municipales ouvriront désormais le dimanche après-midi et jusqu'à vingt heures le mercredi.",
            "Cette extension des horaires répond à une demande exprimée par les étudiants et les familles lors de la consultation de l'an dernier.",
            "Des ateliers d'écriture, des lectures pour les enfants et des cours d'informatique pour les seniors complètent le programme.",
        ],
    },
    {
        "id": "fr-budget-participatif",
        "org": "Métropole de Belvédère",
        "topic": "participation",
        "title": "Budget participatif : 42 projets retenus par les habitants",
        "paragraphs": [
            "Plus de douze mille habitants ont voté pour le troisième budget participatif de la métropole, doté de trois millions d'euros.",
            "Parmi les projets lauréats figurent des jardins partagés, des pistes cyclables sécurisées, une ressourcerie et la rénovation d'un terrain de sport.",
            "Les services municipaux réaliseront les projets dans les deux prochaines années et publieront leur avancement sur une carte en ligne.",
        ],
    },
    {
        "id": "fr-eau-potable",
        "org": "Communauté de communes du Val d'Orne",
        "topic": "eau",
        "title": "Eau potable : des travaux sur le réseau pour limiter les fuites",
        "paragraphs": [
            "Près d'un quart de l'eau potable se perdait dans des canalisations anciennes. Les communes lancent un programme de travaux de cinq ans pour remplacer les conduites les plus fragiles.",
            "Les chantiers commenceront dans les villages où les fuites sont les plus nombreuses. La circulation sera alternée pendant les travaux.",
            "Le prix de l'eau restera stable grâce à une subvention de l'agence de l'eau.",
        ],
    },
    {
        "id": "fr-conseil-jeunes",
        "org": "Ville de Saint-Aubin-sur-Loire",
        "topic": "jeunesse",
        "title": "Élection du conseil municipal des jeunes",
        "paragraphs": [
            "Les collégiens de la ville ont élu les vingt-quatre membres du nouveau conseil municipal des jeunes, qui siégera pendant deux ans.",
            "Les jeunes élus ont déjà proposé un skatepark, des menus végétariens à la cantine et une journée de nettoyage des berges.",
            "Le maire a rappelé que les propositions du conseil seront étudiées par les commissions municipales.",
        ],
    },
    {
        "id": "fr-canicule",
        "org": "Métropole de Belvédère",
        "topic": "santé",
        "title": "Canicule : un registre pour les personnes isolées",
        "paragraphs": [
            "La métropole active son plan canicule. Les personnes âgées, handicapées ou isolées peuvent s'inscrire sur un registre afin d'être appelées chaque jour par des bénévoles.",
            "Des salles rafraîchies sont ouvertes dans les mairies de quartier et les horaires des piscines sont prolongés.",
            "Les services de santé rappellent de boire régulièrement et d'éviter les efforts aux heures les plus chaudes.",
        ],
    },
    {
        "id": "fr-demarches-en-ligne",
        "org": "Ville de Saint-Aubin-sur-Loire",
        "topic": "numérique",
        "title": "Vos démarches administratives en ligne, sans vous déplacer",
        "paragraphs": [
            "Inscriptions scolaires, demandes d'actes d'état civil, réservation de salles : une vingtaine de démarches sont désormais accessibles en ligne.",
            "Le nouveau portail a été conçu avec des habitants de tous âges et respecte les règles d'accessibilité numérique.",
            "Un conseiller numérique accompagne, sur rendez-vous, les personnes qui ne sont pas à l'aise avec internet.",
        ],
    },
    {
        "id": "fr-accueil-refugies",
        "org": "Métropole de Belvédère",
        "topic": "migrations",
        "title": "Un lieu d'accueil pour les familles réfugiées",
        "paragraphs": [
            "Un centre d'accueil pour les familles réfugiées a ouvert ses portes dans une ancienne école, avec un accompagnement pour le logement, la scolarité et l'emploi.",
            "Des cours de français sont assurés par des associations, et des interprètes sont présents trois jours par semaine.",
            "Le projet est cofinancé par la métropole, l'État et un programme européen d'intégration.",
        ],
    },
    {
        "id": "fr-egalite",
        "org": "Communauté de communes du Val d'Orne",
        "topic": "égalité",
        "title": "Égalité entre les femmes et les hommes : un plan d'action",
        "paragraphs": [
            "La communauté de communes a adopté un plan d'action pour l'égalité entre les femmes et les hommes dans ses services et ses politiques publiques.",
            "Le plan prévoit la parité dans les jurys de recrutement, des horaires compatibles avec la vie familiale et la formation des agents contre le harcèlement.",
            "Un bilan annuel sera présenté en séance publique.",
        ],
    },
    {
        "id": "fr-marche-producteurs",
        "org": "Ville de Saint-Aubin-sur-Loire",
        "topic": "économie",
        "title": "Un marché de producteurs locaux chaque jeudi",
        "paragraphs": [
            "Un marché de producteurs locaux s'installe chaque jeudi soir sur la place de la mairie, avec une trentaine d'agriculteurs et d'artisans de la région.",
            "Les emplacements sont gratuits la première année pour soutenir les jeunes exploitations agricoles.",
            "Le marché accepte la monnaie locale et propose un stand de recettes de saison.",
        ],
    },
    {
        "id": "fr-elections-municipales",
        "org": "Métropole de Belvédère",
        "topic": "élections",
        "title": "Élections municipales : inscrivez-vous sur les listes électorales",
        "paragraphs": [
            "Pour voter aux prochaines élections municipales, il faut être inscrit sur les listes électorales avant le six février.",
            "Les citoyens européens résidant dans la commune peuvent voter et se présenter aux élections municipales.",
            "L'inscription se fait en ligne ou au guichet de la mairie, avec une pièce d'identité et un justificatif de domicile.",
        ],
    },
    {
        "id": "fr-arbres-ecoles",
        "org": "Communauté de communes du Val d'Orne",
        "topic": "climat",
        "title": "Des cours d'école végétalisées contre la chaleur",
        "paragraphs": [
            "Cinq cours d'école vont être débitumées et plantées d'arbres pour offrir de l'ombre aux élèves pendant les journées chaudes.",
            "Les enfants ont dessiné eux-mêmes une partie des aménagements : potagers, coins calmes et espaces de jeux en bois.",
            "Les cours seront ouvertes aux habitants du quartier le samedi.",
        ],
    },
]
