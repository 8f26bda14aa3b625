"""``seamless:evaluate``, "Assess classification accuracy".

- :mod:`.algorithm`  the algorithm: confusion matrix, kappa, IoU and class areas
- :mod:`.values`     a value raster (regression) against reference values: MAE, RMSE, R², bias, scatter plot
"""
