"""``seamless:evaluate``, "Assess classification accuracy", and ``seamless:evaluatedetections``, "Assess detection
accuracy".

- :mod:`.algorithm`   the classification's: confusion matrix, kappa, IoU and class areas
- :mod:`.detections`  the detections': TP/FP/FN, precision, recall, F1, AP per class, mAP, precision-recall curves
- :mod:`.values`     a value raster (regression) against reference values: MAE, RMSE, R², bias, scatter plot
"""
