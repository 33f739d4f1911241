"""The bundled demo: sample feeds served on 127.0.0.1 and one full cycle over them."""
