"""Connected class regions, pure: merging the small ones and simplifying outlines.

- :mod:`.min_area`  regions smaller than MIN_AREA merged into their largest neighbour
- :mod:`.simplify`  outlines simplified so neighbours keep sharing their boundaries (SIMPLIFY)
"""
