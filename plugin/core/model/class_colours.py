"""Colours for classes that come without one, by what their names say: a small land-cover palette.

A model (or a label layer) that names its classes but gives no colours used to get the colour-blind-safe
palette in class order, so "forest" could be light blue and "water" pink. A class whose name holds a common
land-cover word gets that cover's usual colour instead (the colours of the bundled Sentinel-2 model where it has
the class); other names keep the palette. Pure standard library.
"""
from __future__ import annotations

import re

# Land-cover words -> colour. Singular words; a trailing "s" of a name's word is also tried ("trees", "roads").
LAND_COVER_COLOURS: dict[str, str] = {
    **dict.fromkeys(("water", "river", "lake", "sea", "ocean", "pond", "reservoir", "stream", "canal"), "#2166ac"),
    **dict.fromkeys(("wetland", "marsh", "swamp", "bog", "fen", "mangrove"), "#67a9cf"),
    **dict.fromkeys(("forest", "woodland", "wood", "tree", "trees", "canopy"), "#1b7837"),
    **dict.fromkeys(("scrub", "shrub", "shrubland", "bush", "heath"), "#8c6d31"),
    **dict.fromkeys(("grass", "grassland", "lawn", "vegetation"), "#a6d96a"),
    **dict.fromkeys(("meadow", "pasture", "rangeland"), "#d9ef8b"),
    **dict.fromkeys(("farm", "farmland", "crop", "cropland", "agriculture", "agricultural", "arable", "field"),
                    "#e6c364"),
    **dict.fromkeys(("orchard", "vineyard", "plantation"), "#b8e186"),
    **dict.fromkeys(("residential", "urban", "built", "builtup", "settlement", "building", "house"), "#d73027"),
    **dict.fromkeys(("industrial", "commercial", "retail"), "#9e0142"),
    **dict.fromkeys(("road", "street", "railway", "rail", "parking", "impervious", "pavement"), "#636363"),
    **dict.fromkeys(("bare", "barren", "soil", "sand", "beach", "rock", "quarry", "desert"), "#c2a383"),
    **dict.fromkeys(("snow", "ice", "glacier"), "#e0f3f8"),
    "cloud": "#f0f0f0",
    "shadow": "#3a3a3a",
}
_WORD = re.compile(r"[a-z]+")


def named_color(name: str) -> str | None:
    """The land-cover colour a class name calls for ("Deciduous forest" -> forest's), or None."""
    text = str(name).casefold()
    joined = "".join(_WORD.findall(text))  # "built-up" -> "builtup"
    if joined in LAND_COVER_COLOURS:
        return LAND_COVER_COLOURS[joined]
    for word in reversed(_WORD.findall(text)):  # the last word names the cover: "low vegetation", "water body"?
        for candidate in (word, word[:-1] if word.endswith("s") else word):
            if candidate in LAND_COVER_COLOURS:
                return LAND_COVER_COLOURS[candidate]
    return None
