"""``seamless:evaluate``, "Assess classification accuracy".

- :mod:`.algorithm`  the algorithm: confusion matrix, kappa, IoU and class areas
"""
