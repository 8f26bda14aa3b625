"""Plugins > Seamless Segmentation > Diagnostics: the report in a window, already copied to the clipboard."""
from __future__ import annotations

from qgis.PyQt.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...dependencies.diagnostics import Report, collect
from .qgis_environment import profile_dir, qgis_rows


class DiagnosticsDialog(QDialog):
    """Shows the report as HTML; its text goes to the clipboard when the dialog opens and on *Copy*."""

    def __init__(self, report: Report, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report = report
        self.setWindowTitle("Seamless Segmentation diagnostics")
        self.resize(760, 640)
        self.browser = QTextBrowser(self)
        self.browser.setHtml(report.html())
        self.status = QLabel("The report is copied to the clipboard: paste it into your bug report.", self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        copy = QPushButton("Copy again", self)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_to_clipboard)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.browser, self.status, buttons):
            layout.addWidget(widget)
        self.copy_to_clipboard()

    def copy_to_clipboard(self) -> None:
        QApplication.clipboard().setText(self.report.text())


def show_diagnostics(parent: QWidget | None = None) -> DiagnosticsDialog:
    """Collect the report, copy it to the clipboard and show it (not modal); the dialog is returned."""
    dialog = DiagnosticsDialog(collect(qgis_rows(), profile_dir()), parent)
    dialog.show()
    return dialog
