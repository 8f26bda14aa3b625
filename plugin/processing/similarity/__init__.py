"""``seamless:similarity``, "Similarity search with an embedding model": cells compared with examples.

- :mod:`.algorithm`  parameters in, a SimilarityRequest out, the similarity job does the work
"""
