"""A topology file read into the model: validated (``loader``), kept between
runs (``cache``), linted (``lint``), and described as a JSON Schema
(``schema``). Above the kinds: every kind's options are part of the format."""
