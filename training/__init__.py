"""Training for Seamless Segmentation: U-Net, ResNet-FCN and MobileNetV2-U-Net from rasters and labels,
exported to ONNX with the model contract embedded.

Importing this package imports nothing heavy (no torch): the QGIS plugin loads without torch and
imports the training modules lazily when the "Train segmentation model" algorithm runs. Entry
points: :func:`training.api.train` (also ``python -m training train --config CONFIG``),
:func:`training.api.export_checkpoint` and :mod:`training.evaluate`.

Modules:

- :mod:`.api`: What the command line and the Processing algorithm call: train, export a checkpoint, evaluate a model
- :mod:`.calibration`: Windows of real pixels for INT8 quantization
- :mod:`.checkpoint`: Checkpoints that are safe to load: tensors, numbers, strings, lists and dicts only
- :mod:`.checkpoint_export`: Any checkpoint a run wrote exports to ONNX
- :mod:`.class_codes`: Class codes a dataset already uses
- :mod:`.config`: Training configuration: sections of plain settings, read from YAML or JSON and from flags
- :mod:`.config_ranges`: The allowed range of every numeric configuration key, checked before anything runs
- :mod:`.distributed`: Several processes under ``torchrun``: DistributedDataParallel with NCCL on GPUs, gloo on CPUs
- :mod:`.epoch_loop`: The epoch loop the single-process trainers share (the detector's, the regression model's)
- :mod:`.evaluate`: Evaluate an exported ONNX model on labelled data, exactly as the plugin would run it
- :mod:`.export`: ONNX export with the contract embedded, verified in the function that writes it
- :mod:`.fitting`: One training run up to the kept weights, without exporting
- :mod:`.forest`: The simple baseline: a pixel random forest
- :mod:`.losses`: Cross-entropy with class weights, plus an optional soft Dice or Jaccard term
- :mod:`.model_contract`: The contract a trained model is exported with
- :mod:`.plan`: Defaults chosen from the data
- :mod:`._plugin`: The one place where training imports the plugin's pure core and its GDAL-only adapters
- :mod:`.progress`: Progress on the command line: a tqdm bar, log lines above it, Ctrl+C as a polite cancel
- :mod:`.quantize`: INT8 models for the CPU: onnxruntime's static quantization
- :mod:`.receptive_field`: How far a trained network looks: the context margin written into the contract
- :mod:`.report`: The training report: one self-contained HTML page (PNG plots embedded) and the same figures as JSON
- :mod:`.report_sections`: Sections of the training report that say how far to trust it
- :mod:`.timing`: Time estimates for long runs
- :mod:`.trainer`: The training loop: AdamW, cosine or one-cycle schedule, validation every epoch
- :mod:`.uncertainty`: How sure a validation figure is: a bootstrap over the validation's spatial units
- :mod:`.validation`: Scoring on the validation area with the plugin's one implementation of the metrics
- :mod:`.cells`: Tile classification training: one class per cell, MobileNetV2 or ResNet classifiers
- :mod:`.data`: Training data: scenes (raster + labels, chips folders), spatial split, classes, statistics, datasets
- :mod:`.detection`: Object detection training: a RetinaNet on boxes from a vector layer
- :mod:`.nets`: Networks in plain PyTorch: U-Net, ResNet-FCN, MobileNetV2 U-Net and RetinaNet (torch)
- :mod:`.regression`: Per-pixel regression training: a raster of continuous values learnt from the image
- :mod:`.tune`: Hyperparameter search for the training package (Optuna): ``python -m training tune``
"""

__all__: list[str] = []
