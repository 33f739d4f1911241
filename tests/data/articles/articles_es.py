"""Artículos en español del conjunto etiquetado, escritos para este proyecto (ver README.md)."""

ARTICLES = [
    {
        "id": "es-vivienda-alquiler",
        "org": "Ayuntamiento de Villanueva del Río",
        "topic": "vivienda",
        "title": "El ayuntamiento construirá 300 viviendas de alquiler asequible",
        "paragraphs": [
            "El pleno municipal aprobó la construcción de 300 viviendas de alquiler asequible en terrenos públicos junto a la estación de tren.",
            "Las viviendas se destinarán a jóvenes menores de treinta y cinco años y a familias con ingresos bajos, con alquileres que no superarán un tercio de sus ingresos.",
            "Las obras comenzarán el próximo año y el ayuntamiento abrirá un registro de solicitantes en primavera.",
        ],
    },
    {
        "id": "es-inundaciones",
        "org": "Diputación de Sierra Alta",
        "topic": "clima",
        "title": "Un plan contra las inundaciones para los municipios del valle",
        "paragraphs": [
            "Tras las lluvias torrenciales del otoño, la diputación ha aprobado un plan de prevención de inundaciones para los municipios del valle.",
            "El plan incluye la limpieza de cauces, la recuperación de zonas verdes inundables y un sistema de avisos para los vecinos.",
            "Los ayuntamientos recibirán ayudas para adaptar escuelas y centros de salud situados en zonas de riesgo.",
        ],
    },
    {
        "id": "es-autobus-electrico",
        "org": "Ayuntamiento de Puerto Claro",
        "topic": "movilidad",
        "title": "Los autobuses eléctricos llegan a todas las líneas urbanas",
        "paragraphs": [
            "La flota municipal de autobuses es ya totalmente eléctrica tras la incorporación de veinte nuevos vehículos.",
            "Los autobuses eléctricos reducen el ruido y la contaminación en el centro de la ciudad, y se cargan por la noche con energía renovable.",
            "El ayuntamiento ampliará además el horario nocturno de tres líneas durante los fines de semana.",
        ],
    },
    {
        "id": "es-bibliotecas",
        "org": "Ayuntamiento de Villanueva del Río",
        "topic": "cultura",
        "title": "Las bibliotecas municipales abren también los domingos",
        "paragraphs": [
            "Las cinco bibliotecas municipales abrirán los domingos por la mañana a partir de octubre, atendiendo una petición de estudiantes y familias.",
            "La programación incluye clubes de lectura, cuentacuentos infantiles y talleres de alfabetización digital para mayores.",
            "El carné de biblioteca es gratuito y permite también el préstamo de libros electrónicos.",
        ],
    },
    {
        "id": "es-presupuestos-participativos",
        "org": "Ayuntamiento de Puerto Claro",
        "topic": "participación",
        "title": "Presupuestos participativos: los vecinos eligen 25 proyectos",
        "paragraphs": [
            "Más de siete mil vecinos participaron en la votación de los presupuestos participativos, que reparten un millón y medio de euros.",
            "Entre los proyectos elegidos hay parques infantiles con sombra, carriles bici, un huerto urbano y la mejora de la iluminación de varias calles.",
            "El ayuntamiento publicará cada trimestre el estado de ejecución de los proyectos.",
        ],
    },
    {
        "id": "es-agua-sequia",
        "org": "Diputación de Sierra Alta",
        "topic": "agua",
        "title": "Sequía: medidas para ahorrar agua en los municipios",
        "paragraphs": [
            "Ante la sequía, los municipios de la sierra limitan el riego de jardines públicos y reparan las fugas de la red de abastecimiento.",
            "La diputación financia depósitos de agua de lluvia para huertos y colegios, y campañas de ahorro en los hogares.",
            "El consumo de agua bajó un doce por ciento en los tres primeros meses de aplicación de las medidas.",
        ],
    },
    {
        "id": "es-consejo-juventud",
        "org": "Ayuntamiento de Villanueva del Río",
        "topic": "juventud",
        "title": "Nace el consejo local de la juventud",
        "paragraphs": [
            "Treinta jóvenes de entre catorce y veinticinco años forman el nuevo consejo local de la juventud, elegido por los institutos y las asociaciones juveniles.",
            "El consejo propondrá actividades de ocio, empleo juvenil y vivienda para jóvenes, y será consultado sobre el presupuesto municipal.",
            "Sus reuniones serán públicas y se celebrarán en el centro cívico.",
        ],
    },
    {
        "id": "es-ola-calor",
        "org": "Ayuntamiento de Puerto Claro",
        "topic": "salud",
        "title": "Refugios climáticos para la ola de calor",
        "paragraphs": [
            "Durante la ola de calor, el ayuntamiento abre refugios climáticos en bibliotecas, centros cívicos y polideportivos con aire acondicionado.",
            "Los servicios sociales llamarán a diario a las personas mayores que viven solas para comprobar su estado de salud.",
            "Las fuentes públicas y las piscinas municipales amplían su horario hasta las diez de la noche.",
        ],
    },
    {
        "id": "es-sede-electronica",
        "org": "Diputación de Sierra Alta",
        "topic": "digital",
        "title": "La sede electrónica permite hacer trámites desde el móvil",
        "paragraphs": [
            "Los vecinos de los pequeños municipios pueden hacer ya más de cuarenta trámites desde el móvil a través de la nueva sede electrónica.",
            "Empadronamientos, licencias de obra menor y solicitudes de ayudas se tramitan sin desplazarse a la capital de la comarca.",
            "Un servicio de atención telefónica ayuda a quienes tengan dificultades con los trámites digitales.",
        ],
    },
    {
        "id": "es-acogida-refugiados",
        "org": "Ayuntamiento de Villanueva del Río",
        "topic": "migración",
        "title": "Un centro de acogida para familias refugiadas",
        "paragraphs": [
            "El ayuntamiento ha abierto un centro de acogida para familias refugiadas con asesoramiento sobre vivienda, escolarización, sanidad y empleo.",
            "Asociaciones locales imparten clases de español y organizan actividades para los niños por las tardes.",
            "El centro cuenta con financiación municipal, autonómica y de un programa europeo de integración.",
        ],
    },
    {
        "id": "es-igualdad",
        "org": "Ayuntamiento de Puerto Claro",
        "topic": "igualdad",
        "title": "Plan de igualdad entre mujeres y hombres en el ayuntamiento",
        "paragraphs": [
            "El ayuntamiento ha aprobado su segundo plan de igualdad, que busca eliminar la brecha salarial entre mujeres y hombres en la plantilla municipal.",
            "El plan incluye medidas de conciliación, formación contra el acoso y la paridad en los tribunales de selección.",
            "Una comisión de seguimiento evaluará el plan cada año.",
        ],
    },
    {
        "id": "es-mercado-municipal",
        "org": "Diputación de Sierra Alta",
        "topic": "economía",
        "title": "El mercado municipal reabre con productos de la comarca",
        "paragraphs": [
            "El mercado municipal ha reabierto tras su rehabilitación con veinticinco puestos de productores y comerciantes de la comarca.",
            "Los alquileres de los puestos son reducidos para los jóvenes emprendedores durante los dos primeros años.",
            "El edificio cuenta ahora con placas solares y un espacio para talleres de cocina.",
        ],
    },
    {
        "id": "es-elecciones-municipales",
        "org": "Ayuntamiento de Puerto Claro",
        "topic": "elecciones",
        "title": "Elecciones municipales: cómo votar por correo",
        "paragraphs": [
            "Los vecinos que no puedan acudir a su colegio electoral en las elecciones municipales pueden solicitar el voto por correo hasta diez días antes.",
            "Los ciudadanos de la Unión Europea empadronados en el municipio también pueden votar si se han inscrito en el censo electoral.",
            "El ayuntamiento instalará puntos de información en los mercados y centros cívicos.",
        ],
    },
    {
        "id": "es-arboles-ciudad",
        "org": "Ayuntamiento de Villanueva del Río",
        "topic": "clima",
        "title": "Cinco mil árboles nuevos para dar sombra a la ciudad",
        "paragraphs": [
            "El ayuntamiento plantará cinco mil árboles en calles, plazas y patios de colegios para reducir el calor en verano.",
            "Se han elegido especies autóctonas resistentes a la sequía, y los vecinos podrán apadrinar un árbol y ayudar a regarlo.",
            "Las plantaciones empezarán en los barrios con menos zonas verdes.",
        ],
    },
]
