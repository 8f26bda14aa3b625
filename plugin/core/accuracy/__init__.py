"""Accuracy assessment, pure: the one implementation of the scores, used by evaluation and training.

- :mod:`.metrics`        the confusion matrix and its scores (OA, kappa, IoU, F1)
- :mod:`.summary`        the result of an assessment: matrix, scores, class names and areas
- :mod:`.class_mapping`  class names typed by users, and matching reference names to class values
- :mod:`.assignment`     the best one-to-one matching of classes: does a confusion matrix look permuted?
- :mod:`.regression_metrics`  continuous values against reference values: MAE, RMSE, R², bias, correlation
"""
