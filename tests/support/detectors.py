"""Tiny ONNX object detectors built with onnx.helper, one per output layout (tests/README.md, docs/detection.md).

Every detector here finds bright squares: band ``k`` of the input holds the squares of class ``k``, each of
side ``sizes[k]`` pixels and of one value ``v`` in (0, 1] on a background of 0. A square's top-left corner
is where ``x - x_above - x_left`` is positive (the window's edges replicated, so a square cut by the left or
top edge shows no corner and is not detected); there the detector puts the box ``[j, i, j + s, i + s]`` (x1
y1 x2 y2, window pixels) with score ``v``. A square cut by the right or bottom edge is detected with a box
reaching past the window, as a real detector guesses a cut object. So the detections are a known function of
the pixels: :func:`paint_squares` paints a raster and :func:`expected_boxes` says what a whole-raster pass
finds.

Layouts (see plugin/core/model/contract_detection.py): ``anchors`` (boxes [b, n, 4] and one-hot scores [b, n, nc],
one anchor per pixel and class, as our RetinaNet exports), ``yolo_v5`` and ``yolo_v6`` ([b, n, 5 + nc]),
``yolo_v8`` ([b, 4 + nc, n]), ``yolo_obb`` ([b, 4 + nc + 1, n], angle pi/2 on a square: the same square),
``yolo_nms`` ([b, 50, 6], the 50 best corners), ``boxes_scores_labels`` (torchvision style, no batch axis,
labels numbered from 1 with background 0, optionally an ``angles`` output).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
SIZES = (8, 12)  # side of the squares of class 0 and class 1
TOP_K = 50
LAYOUT_KINDS = {"anchors": ["boxes", "scores"], "yolo_v5": ["yolo_v5"], "yolo_v6": ["yolo_v6"],
                "yolo_v8": ["yolo_v8"], "yolo_obb": ["yolo_obb"], "yolo_nms": ["yolo_nms"],
                "boxes_scores_labels": ["boxes", "scores", "labels"]}


class _Graph:
    """Nodes and constants of a graph under construction, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.count = 0

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        self.count += 1
        name = f"{op_type.lower()}_{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], name=name, **attributes))
        return name

    def const(self, value: Any, dtype: Any = np.float32) -> str:
        self.count += 1
        name = f"const_{self.count}"
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name


def _corner_scores(g: _Graph, bands: int) -> str:
    """(b, nc, H, W): x - x_above - x_left, edges replicated, then ReLU: a square's value at its top-left corner."""
    padded = g.op("Pad", "image", g.const([0, 0, 1, 1, 0, 0, 0, 0], np.int64), mode="edge")
    kernel = np.zeros((bands, 1, 2, 2), np.float32)
    kernel[:, 0] = [[0, -1], [-1, 1]]
    return g.op("Relu", g.op("Conv", padded, g.const(kernel), group=bands, kernel_shape=[2, 2]))


def _coordinates(g: _Graph) -> tuple[str, str]:
    """(b, 1, H, W) column and row index of every pixel."""
    ones = g.op("Add", g.op("Mul", g.op("Slice", "image", g.const([0], np.int64), g.const([1], np.int64),
                                        g.const([1], np.int64)), g.const(0.0)), g.const(1.0))
    x = g.op("Sub", g.op("CumSum", ones, g.const(3, np.int64)), g.const(1.0))
    y = g.op("Sub", g.op("CumSum", ones, g.const(2, np.int64)), g.const(1.0))
    return x, y


def _last(g: _Graph, *parts: str) -> str:
    """Concatenate (b, nc, H, W) maps along a new last axis: (b, nc, H, W, len(parts))."""
    axis = g.const([4], np.int64)
    return g.op("Concat", *[g.op("Unsqueeze", p, axis) for p in parts], axis=4)


def _class_maps(g: _Graph, scores: str, bands: int) -> str:
    """(b, nc, H, W, nc): the corner score in the channel of its own class, zero in the others."""
    eye = np.eye(bands, dtype=np.float32).reshape(1, bands, 1, 1, bands)
    return g.op("Mul", g.op("Unsqueeze", scores, g.const([4], np.int64)), g.const(eye))


def _rows(g: _Graph, per_pixel: str, width: int) -> str:
    """(b, nc, H, W, k) -> (b, nc * H * W, k)."""
    return g.op("Reshape", per_pixel, g.const([0, -1, width], np.int64))


def build_detector(path: Path, layout: str, bands: int = 2, sizes: tuple[int, ...] = SIZES,
                   contract: dict | None = None, angles: bool = False, shift: float = 0.0) -> Path:
    """Write the square detector of ``layout`` to ``path`` (with ``contract`` embedded when given); ``shift``
    moves every box that many pixels to the right (a detector whose boxes are not where it saw the objects)."""
    g = _Graph()
    scores = _corner_scores(g, bands)
    x, y = _coordinates(g)
    if shift:
        x = g.op("Add", x, g.const(float(shift)))
    side = g.const(np.array(sizes[:bands], np.float32).reshape(1, bands, 1, 1))
    zero = g.op("Mul", scores, g.const(0.0))
    x1, y1 = g.op("Add", x, zero), g.op("Add", y, zero)  # broadcast to (b, nc, H, W)
    x2, y2 = g.op("Add", x1, side), g.op("Add", y1, side)
    half = g.op("Mul", side, g.const(0.5))
    cx, cy, w = g.op("Add", x1, half), g.op("Add", y1, half), g.op("Add", zero, side)
    one = g.op("Add", zero, g.const(1.0))
    outputs: list[tuple[str, str, list[Any]]] = []
    if layout == "anchors":
        outputs = [("boxes", _rows(g, _last(g, x1, y1, x2, y2), 4), ["batch", "anchors", 4]),
                   ("scores", _rows(g, _class_maps(g, scores, bands), bands), ["batch", "anchors", bands])]
    elif layout in ("yolo_v5", "yolo_v6"):
        objectness, classes = (scores, _class_maps(g, one, bands)) if layout == "yolo_v5" else \
            (one, _class_maps(g, scores, bands))
        rows = g.op("Concat", _last(g, cx, cy, w, w, objectness), classes, axis=4)
        outputs = [(layout, _rows(g, rows, 5 + bands), ["batch", "boxes", 5 + bands])]
    elif layout in ("yolo_v8", "yolo_obb"):
        parts = [_last(g, cx, cy, w, w), _class_maps(g, scores, bands)]
        if layout == "yolo_obb":
            parts.append(_last(g, g.op("Add", zero, g.const(math.pi / 2))))
        rows = _rows(g, g.op("Concat", *parts, axis=4), 4 + bands + (layout == "yolo_obb"))
        outputs = [(layout, g.op("Transpose", rows, perm=[0, 2, 1]),
                    ["batch", 4 + bands + (layout == "yolo_obb"), "boxes"])]
    elif layout == "yolo_nms":
        outputs = [(layout, _top_rows(g, scores, _rows(g, _last(g, x1, y1, x2, y2), 4)), ["batch", TOP_K, 6])]
    elif layout == "boxes_scores_labels":
        outputs = _torchvision_outputs(g, scores, side, angles)
    else:
        raise ValueError(f"unknown layout {layout}")
    if angles and layout == "anchors":
        outputs.append(("angles", g.op("Reshape", g.op("Add", zero, g.const(math.pi / 2)),
                                       g.const([0, -1], np.int64)), ["batch", "anchors"]))
    return _save(g, path, bands, outputs, contract)


def _top_rows(g: _Graph, scores: str, boxes: str) -> str:
    """(b, TOP_K, 6): x1 y1 x2 y2 score class of the best corners (a model with its own selection built in)."""
    flat = g.op("Reshape", scores, g.const([0, -1], np.int64))
    values = g.op("TopK", flat, g.const([TOP_K], np.int64), axis=1)
    g.nodes[-1].output.append("top_index")
    index = "top_index"
    chosen = g.op("GatherElements", boxes, g.op("Tile", g.op("Unsqueeze", index, g.const([2], np.int64)),
                                                g.const([1, 1, 4], np.int64)), axis=1)
    shape = g.op("Shape", "image")
    pixels = g.op("Mul", g.op("Gather", shape, g.const(2, np.int64)), g.op("Gather", shape, g.const(3, np.int64)))
    label = g.op("Cast", g.op("Div", index, pixels), to=TensorProto.FLOAT)
    column = g.const([2], np.int64)
    return g.op("Concat", chosen, g.op("Unsqueeze", values, column), g.op("Unsqueeze", label, column), axis=2)


def _torchvision_outputs(g: _Graph, scores: str, side: str, angles: bool) -> list[tuple[str, str, list[Any]]]:
    """Boxes (n, 4), scores (n,), labels (n,) int64 from 1 (0: background) of the first image, no batch axis."""
    found = g.op("Transpose", g.op("NonZero", g.op("Greater", scores, g.const(0.0))), perm=[1, 0])  # (n, 4)
    score = g.op("GatherND", scores, found)
    axis = g.const(1, np.int64)

    def column(i: int) -> str:
        return g.op("Cast", g.op("Gather", found, g.const(i, np.int64), axis=1), to=TensorProto.FLOAT)

    klass, row, col = column(1), column(2), column(3)
    size = g.op("Gather", g.op("Reshape", side, g.const([-1], np.int64)),
                g.op("Gather", found, g.const(1, np.int64), axis=1))
    boxes = g.op("Concat", *[g.op("Unsqueeze", p, axis) for p in (col, row, g.op("Add", col, size),
                                                                  g.op("Add", row, size))], axis=1)
    labels = g.op("Cast", g.op("Add", klass, g.const(1.0)), to=TensorProto.INT64)
    outputs = [("boxes", boxes, ["n", 4]), ("scores", score, ["n"]), ("labels", labels, ["n"])]
    if angles:
        outputs.append(("angles", g.op("Add", g.op("Mul", score, g.const(0.0)), g.const(math.pi / 2)), ["n"]))
    return outputs


def _save(g: _Graph, path: Path, bands: int, outputs: list[tuple[str, str, list[Any]]],
          contract: dict | None) -> Path:
    nodes = list(g.nodes)
    infos = []
    for name, source, shape in outputs:
        nodes.append(helper.make_node("Identity", [source], [name], name=f"out_{name}"))
        dtype = TensorProto.INT64 if name == "labels" else TensorProto.FLOAT
        infos.append(helper.make_tensor_value_info(name, dtype, shape))
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", bands, "height", "width"])
    graph = helper.make_graph(nodes, "squares", [image], infos, initializer=g.constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tests")
    model.ir_version = 8
    if contract is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = "seamless_segmentation", json.dumps(contract)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def detector_contract(layout: str, bands: int = 2, tile: int = 64, max_object: int | None = max(SIZES),
                      angles: bool = False, **detection: Any) -> dict:
    """A complete contract for a square detector (identity normalisation, classes 'small' and 'large')."""
    kinds = LAYOUT_KINDS[layout] + (["angles"] if angles else [])
    names = ["small", "large"][:bands]
    classes = [{"value": i + 1, "name": n} for i, n in enumerate(names)]
    if layout == "boxes_scores_labels":
        classes = [{"value": 0, "name": "background"}] + classes
    carrier = {"anchors": 1, "boxes_scores_labels": 2}.get(layout, 0)
    outputs = [{"name": kind, "kind": kind, **({"classes": classes} if i == carrier else {})}
               for i, kind in enumerate(kinds)]
    return {"schema_version": 1, "task": "detection", "name": f"squares ({layout})",
            "input": {"name": "image", "bands": bands, "scale": 1, "offset": 0, "mean": 0, "std": 1},
            "outputs": outputs, "tile_size": tile, "dynamic_size": True, "size_multiple": 1,
            "detection": {"score_threshold": 0.1, "iou_threshold": 0.5, "max_object_size_px": max_object,
                          **detection}}


def paint_squares(height: int, width: int, squares: list[tuple[int, int, int, float]], bands: int = 2,
                  sizes: tuple[int, ...] = SIZES) -> np.ndarray:
    """(bands, height, width) float32: square (row, col, class, value) painted in its class's band."""
    raster = np.zeros((bands, height, width), np.float32)
    for row, col, klass, value in squares:
        side = sizes[klass]
        raster[klass, row:row + side, col:col + side] = value
    return raster


def expected_boxes(squares: list[tuple[int, int, int, float]], sizes: tuple[int, ...] = SIZES) -> set[tuple]:
    """What a whole-raster pass detects: (x1, y1, x2, y2, score, class index) per square."""
    return {(float(col), float(row), float(col + sizes[k]), float(row + sizes[k]), round(float(v), 6), k)
            for row, col, k, v in squares}


def window_edges(length: int, window: int, overlap: int) -> list[int]:
    """Where windows start and end inside an axis of ``length`` px, on the flush grid a detection plan lays
    (:func:`plugin.core.engine.grid.plan_axis` with the detector's window and overlap, no context beyond)."""
    from plugin.core.engine.grid import AxisLayout, plan_axis

    axis = plan_axis(length, 0, 0, AxisLayout(window, overlap))
    return sorted({e for p in axis.positions for e in (p, p + window) if 0 < e < length})


def edge_squares(height: int, width: int, window: int, overlap: int, seed: int = 0,
                 sizes: tuple[int, ...] = SIZES) -> list[tuple[int, int, int, float]]:
    """Squares (row, col, class, value) across every interior edge of the windows a detection run of ``window``
    px windows overlapping by at least ``overlap`` px lays over the raster (columns and rows), and on the corners
    where windows meet; none touching another of its class. Values are drawn from 0.3 to 1."""
    rng = np.random.default_rng(seed)
    edges_x = [e for e in window_edges(width, window, overlap) if 8 < e < width - 14]
    edges_y = [e for e in window_edges(height, window, overlap) if 8 < e < height - 14]
    candidates = [(r, e - 5, i % 2) for i, e in enumerate(edges_x) for r in range(2, height - 14, 21)]
    candidates += [(e - 5, c, i % 2) for i, e in enumerate(edges_y) for c in range(3, width - 14, 19)]
    candidates += [(ey - 6, ex - 6, 1) for ex in edges_x for ey in edges_y]
    occupied = np.zeros((len(sizes), height, width), bool)
    chosen = []
    for row, col, klass in candidates:
        side = sizes[klass]
        if row < 0 or col < 0 or row + side > height or col + side > width or \
                occupied[klass, max(row - 2, 0):row + side + 2, max(col - 2, 0):col + side + 2].any():
            continue
        occupied[klass, row:row + side, col:col + side] = True
        chosen.append((row, col, klass, round(float(rng.uniform(0.3, 1.0)), 3)))
    return chosen
