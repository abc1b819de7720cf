"""The model panel: pick a method, read what it does, set its knobs, run it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..experiment import describe_protocol, protocol_choices
from ..models import MODELS
from ..models.params import Param, ParamError

_EARLY_STOP_TIP = ("Stop when the validation error (10% of the training data, never the test set) has not improved "
                   "for this many epochs, and keep the best epoch's model. Only for methods trained in epochs.")

#: QSpinBox holds a C int.
_SPIN_MAX = 2**31 - 1

#: Protocol kind -> (label in the list, what the number means, range, step, default).
_PROTOCOLS = {
    "all": ("Fit on all data", None, None, None, None),
    "random": ("Random holdout", "test share", (0.01, 0.5), 0.05, 0.2),
    "user": ("Per-user holdout", "test share", (0.01, 0.5), 0.05, 0.2),
    "time": ("Latest entries (global time)", "test share", (0.01, 0.5), 0.05, 0.2),
    "time-user": ("Latest entries of each user", "test share", (0.01, 0.5), 0.05, 0.2),
    "kfold": ("k-fold cross-validation", "folds", (2, 10), 1, 5),
    "leave": ("Leave-k-out per user", "k", (1, 20), 1, 1),
    "cells": ("Masked cell holdout", "cell share", (0.01, 0.5), 0.05, 0.1),
    # Offered only when the data has side features (experiment.protocol_choices).
    "cold-items": ("New items (cold start)", "item share", (0.01, 0.5), 0.05, 0.1),
    "cold-users": ("New users (cold start)", "user share", (0.01, 0.5), 0.05, 0.1),
    "cold-items-kfold": ("New items, k-fold (each item new once)", "folds", (2, 20), 1, 10),
    "cold-users-kfold": ("New users, k-fold (each user new once)", "folds", (2, 20), 1, 10),
}

# Order in the method list: teaching first, then the workhorses.
_ORDER = ["baseline", "popularity", "gd", "sgd", "svdpp", "timesvdpp", "als", "bpmf", "implicit-als", "bpr", "nmf", "svd"]


def model_order() -> list[str]:
    known = [name for name in _ORDER if name in MODELS]
    return known + sorted(set(MODELS) - set(known))


class ModelPanel(QWidget):
    """Method choice, explanation, hyperparameter form, split, Run and Cancel.

    Signals
    -------
    run_requested(str, dict, str, int)
        Model name, parameters, protocol spec ("random:0.2", "all", "kfold:5"), seed.
    cancel_requested()
    """

    run_requested = Signal(str, dict, str, int)
    cancel_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._editors: dict = {}
        self._saved_params: dict = {}
        self._filled: dict = {}  # per method: values the panel filled in from a sample's own settings
        self.dataset_kind = None

        self._running = False
        self._preparing = False
        self.method = QComboBox()
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method.setMinimumContentsLength(16)  # long method names must not widen the panel
        for name in model_order():
            cls = MODELS[name]
            self.method.addItem(cls.title or name, name)
        # A first start offers the workhorse, not the reference model that happens to be listed first.
        self.method.setCurrentIndex(max(self.method.findData("sgd"), 0))
        self.method.currentIndexChanged.connect(self._on_method)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.formula = QLabel()
        self.formula.setWordWrap(True)
        self.formula.setStyleSheet("font-family: monospace; color: palette(mid);")
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.preset_note.setVisible(False)
        self.param_box = QGroupBox("Hyperparameters")
        self.param_form = QFormLayout(self.param_box)

        self.dataset = None
        self._default_spec = None
        self.split_kind = QComboBox()
        for key, (label, *_rest) in _PROTOCOLS.items():
            self.split_kind.addItem(label, key)
        self.split_kind.currentIndexChanged.connect(self._on_protocol)
        self.split_fraction = QDoubleSpinBox()
        self.split_fraction.setDecimals(2)
        self.split_fraction.valueChanged.connect(self._describe_protocol)
        self.split_value_label = QLabel("test share:")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.protocol_text = QLabel()
        self.protocol_text.setWordWrap(True)
        self.protocol_text.setStyleSheet("color: palette(mid);")
        split_box = QGroupBox("Evaluation")
        split_form = QFormLayout(split_box)
        split_form.addRow("protocol:", self.split_kind)
        split_form.addRow(self.split_value_label, self.split_fraction)
        split_form.addRow("seed:", self.seed)
        split_form.addRow(self.protocol_text)
        # Early stopping watches a validation part carved from the training data (never the
        # test set the run is scored on), so it is an evaluation choice, not a model parameter.
        self.early_stop = QCheckBox("stop early after")
        self.early_stop.setToolTip(_EARLY_STOP_TIP)
        self.patience = QSpinBox()
        self.patience.setRange(1, 1000)
        self.patience.setValue(5)
        self.patience.setSuffix(" epochs without gain")
        self.early_stop.toggled.connect(self.patience.setEnabled)
        self.patience.setEnabled(False)
        stop_row = QHBoxLayout()
        stop_row.setContentsMargins(0, 0, 0, 0)
        stop_row.addWidget(self.early_stop)
        stop_row.addWidget(self.patience, 1)
        split_form.addRow(stop_row)
        self._on_protocol()

        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        # Run and Cancel live in their own bar, which the window keeps below the
        # scrolling form: a long method description must never push Run off screen.
        self.button_bar = QWidget()
        buttons = QHBoxLayout(self.button_bar)
        buttons.setContentsMargins(9, 4, 9, 6)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Method:"))
        layout.addWidget(self.method)
        layout.addWidget(self.explanation)
        layout.addWidget(self.formula)
        layout.addWidget(self.preset_note)
        layout.addWidget(self.param_box)
        layout.addWidget(split_box)
        layout.addStretch(1)
        self._on_method()

    # ----------------------------------------------------------- state
    @property
    def model_name(self) -> str:
        return self.method.currentData()

    def set_dataset_kind(self, kind: str | None) -> None:
        """Enable the methods that fit this kind of data; pick a sensible one."""
        self.dataset_kind = kind
        model = self.method.model()
        first_ok = None
        for row in range(self.method.count()):
            cls = MODELS[self.method.itemData(row)]
            ok = kind is None or kind in cls.kinds
            model.item(row).setEnabled(ok)
            if ok and first_ok is None and cls.name not in ("baseline", "popularity", "gd"):
                first_ok = row
        current = MODELS[self.model_name]
        if kind is not None and kind not in current.kinds and first_ok is not None:
            self.method.setCurrentIndex(first_ok)

    def set_dataset(self, dataset) -> None:
        """Offer the methods and the evaluation protocols that fit this data; choose the default protocol."""
        self.dataset = dataset
        self.set_dataset_kind(None if dataset is None else dataset.kind)
        allowed = {spec.partition(":")[0] for spec in protocol_choices(dataset)} if dataset is not None else set(_PROTOCOLS)
        for row in range(self.split_kind.count()):
            self.split_kind.model().item(row).setEnabled(self.split_kind.itemData(row) in allowed)
        if dataset is not None:
            self._default_spec = protocol_choices(dataset)[0]
            self.set_protocol(self._default_spec)
        self._on_method()  # a tutorial's sample brings its own starting values

    def set_protocol(self, spec: str) -> None:
        """Select a protocol by its spec ("random:0.2", "all", "kfold:5")."""
        kind, _, value = spec.partition(":")
        index = self.split_kind.findData(kind)
        if index >= 0:
            self.split_kind.setCurrentIndex(index)
        if value:
            self.split_fraction.setValue(float(value))
        self._describe_protocol()

    def _on_protocol(self) -> None:
        label, meaning, bounds, step, default = _PROTOCOLS[self.split_kind.currentData()]
        has_value = meaning is not None
        self.split_fraction.setEnabled(has_value)
        self.split_value_label.setText(f"{meaning}:" if has_value else "")
        if has_value:
            whole = isinstance(default, int)
            self.split_fraction.blockSignals(True)
            self.split_fraction.setDecimals(0 if whole else 2)
            self.split_fraction.setRange(*bounds)
            self.split_fraction.setSingleStep(step)
            self.split_fraction.setValue(default)
            self.split_fraction.blockSignals(False)
        self._describe_protocol()

    def _describe_protocol(self) -> None:
        if self.dataset is None:
            self.protocol_text.setText("")
            return
        spec = self.split_spec()
        self.protocol_text.setText(describe_protocol(spec, self.dataset, chosen_by_default=(spec == self._default_spec)))

    def set_preparing(self, preparing: bool) -> None:
        """While the kernels compile, Run says so (a status line is overwritten by the next message)."""
        self._preparing = preparing
        self.run_button.setEnabled(not preparing and not self._running)
        self.run_button.setText("Preparing kernels..." if preparing else "Run")
        self.run_button.setToolTip(
            "numba compiles the fitting kernels on the first start (about a minute); later starts load them "
            "from the cache" if preparing else "Fit the chosen method on the data")

    def set_running(self, running: bool) -> None:
        self._running = running
        self.run_button.setEnabled(not running and not self._preparing)
        self.cancel_button.setEnabled(running)
        self.method.setEnabled(not running)

    def remembered_params(self) -> dict:
        """Parameters typed per method (persisted by the main window)."""
        self._saved_params[self.model_name] = self.params()
        return dict(self._saved_params)

    def restore_params(self, saved: dict) -> None:
        self._saved_params = {k: v for k, v in saved.items() if k in MODELS and isinstance(v, dict)}
        self._on_method()

    def select_method(self, name: str) -> None:
        index = self.method.findData(name)
        if index >= 0:
            self.method.setCurrentIndex(index)

    # ----------------------------------------------------------- form
    def _on_method(self) -> None:
        if self._editors and getattr(self, "_shown", None):
            self._saved_params[self._shown] = self.params()
        cls = MODELS[self.model_name]
        self._shown = cls.name
        if hasattr(self, "early_stop"):
            epochs = "n_epochs" in cls.defaults
            self.early_stop.setEnabled(epochs)
            self.patience.setEnabled(epochs and self.early_stop.isChecked())
            self.early_stop.setToolTip(_EARLY_STOP_TIP + (
                "" if epochs else f" {cls.title or cls.name} is not trained in epochs."))
        self.explanation.setText(cls.summary)
        self.formula.setText(cls.objective)
        while self.param_form.rowCount():
            self.param_form.removeRow(0)
        self._editors = {}
        saved = self._saved_params.get(cls.name, {})
        # A tutorial's sample starts the form at the tutorial's own settings and says so (gd's defaults
        # leave the toy's known cells ~0.3 off). The form remembers every field, so a value counts as the
        # user's only when it differs from the default and from what the panel itself filled in; what the
        # panel filled in goes back to the default on data without such settings.
        from ..data.samples import sample_settings

        filled = self._filled.get(cls.name, {})
        typed = {name for name, value in saved.items()
                 if name in cls.defaults and value != cls.defaults[name] and not (name in filled and filled[name] == value)}
        preset, note = sample_settings(self.dataset, cls.name, given=typed) if self.dataset is not None else ({}, "")
        self._filled[cls.name] = dict(preset)
        if hasattr(self, "preset_note"):
            self.preset_note.setText(note)
            self.preset_note.setVisible(bool(note))
        for declared in cls.params_spec:
            name = declared.name
            if name in preset:
                value = preset[name]
            elif name in filled and name not in typed:
                value = declared.default
            else:
                value = saved.get(name, declared.default)
            editor = _editor_for(declared, _acceptable(declared, value))
            editor.setToolTip(f"{declared.help}; {declared.allowed()} (default {declared.default!r})")
            self.param_form.addRow(declared.name + ":", editor)
            self._editors[declared.name] = (editor, declared)
        self.spark_note = None
        unmapped = getattr(cls, "spark_unmapped", None)
        if unmapped and "engine" in self._editors:
            self.spark_note = _spark_note(self._editors["engine"][0], unmapped)
            self.param_form.addRow(self.spark_note)

    def params(self) -> dict:
        """The form's values; a number field that does not parse gives its text, which validation refuses by name."""
        return {name: _read(editor, declared) for name, (editor, declared) in self._editors.items()}

    def set_param(self, name: str, value) -> None:
        """Set one field (tests, restoring a project)."""
        editor, declared = self._editors[name]
        _write(editor, declared, value)

    def editor(self, name: str) -> QWidget:
        """The field of one parameter of the method shown (the window focuses it when its value is refused)."""
        return self._editors[name][0]

    def split_spec(self) -> str:
        """The chosen protocol as a spec string ("all", "random:0.2", "kfold:5")."""
        kind = self.split_kind.currentData()
        if _PROTOCOLS[kind][1] is None:
            return kind
        return f"{kind}:{self.split_fraction.value():g}"

    def early_stopping(self) -> int | None:
        """The patience in epochs when early stopping is ticked (and the method has epochs), else None."""
        if not self.early_stop.isChecked() or not self.early_stop.isEnabled():
            return None
        return self.patience.value()

    def set_early_stopping(self, patience: int | None) -> None:
        """Tick early stopping with this patience (None unticks it)."""
        self.early_stop.setChecked(patience is not None)
        if patience is not None:
            self.patience.setValue(int(patience))

    def _on_run(self) -> None:
        self.run_requested.emit(self.model_name, self.params(), self.split_spec(), self.seed.value())


def _acceptable(declared: Param, value):
    """``value`` if the declaration accepts it, else the default (a stale remembered value must not break the form)."""
    try:
        return declared.check(value)
    except ParamError:
        return declared.default


def _spark_note(engine_editor: QComboBox, unmapped: dict) -> QLabel:
    """A line under the form, shown with engine = spark: the parameters Spark has no equivalent of."""
    note = QLabel()
    note.setWordWrap(True)
    note.setObjectName("spark_note")

    def show() -> None:
        spark = engine_editor.currentData() == "spark"
        note.setText("No Spark equivalent: " + "; ".join(f"{name}: {why}" for name, why in unmapped.items())
                     + ". Spark reports no loss per epoch: the training curve gets one point, when the fit ends."
                     if spark else "")
        note.setVisible(spark)

    engine_editor.currentIndexChanged.connect(show)
    show()
    return note


def _editor_for(declared: Param, value) -> QWidget:
    """The field for one declared parameter: its range, its words, its None."""
    if declared.kind == "bool":
        editor = QCheckBox()
        editor.setChecked(bool(value))
        return editor
    if declared.kind == "int":
        editor = QSpinBox()
        low = int(declared.low) + int(declared.low_open) if declared.low is not None else -_SPIN_MAX
        high = int(declared.high) - int(declared.high_open) if declared.high is not None else _SPIN_MAX
        low, high = max(low, -_SPIN_MAX), min(high, _SPIN_MAX)
        if declared.none_means is not None:
            # One step below the range stands for None, shown in words.
            low -= 1
            editor.setSpecialValueText(declared.none_means)
        editor.setRange(low, high)
        editor.setValue(low if value is None else int(value))
        return editor
    if declared.kind == "float":
        # Learning rates span decades (2e-4 .. 0.1): free text, validated.
        editor = QLineEdit(f"{float(value):g}")
        validator = QDoubleValidator()
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        if declared.low is not None:
            validator.setBottom(float(declared.low))
        if declared.high is not None:
            validator.setTop(float(declared.high))
        editor.setValidator(validator)
        return editor
    if declared.kind == "str":
        # Free text (a Spark master URL); checked against the declaration when Run is pressed.
        editor = QLineEdit(str(value))
        editor.setPlaceholderText(str(declared.default) or "(empty)")
        return editor
    editor = QComboBox()
    for option in declared.choices:
        editor.addItem(str(option), option)
    editor.setCurrentIndex(max(0, editor.findData(value)))
    return editor


def _read(editor, declared: Param):
    if isinstance(editor, QCheckBox):
        return editor.isChecked()
    if isinstance(editor, QSpinBox):
        if declared.none_means is not None and editor.value() == editor.minimum():
            return None
        return editor.value()
    if isinstance(editor, QComboBox):
        return editor.currentData()
    if declared.kind == "str":
        return editor.text().strip()
    text = editor.text().strip()
    try:
        return float(text)
    except ValueError:
        return text  # refused at Run by validate_params, with the parameter's name and range


def _write(editor, declared: Param, value):
    if isinstance(editor, QCheckBox):
        editor.setChecked(bool(value))
    elif isinstance(editor, QSpinBox):
        editor.setValue(editor.minimum() if value is None and declared.none_means is not None else int(value))
    elif isinstance(editor, QComboBox):
        editor.setCurrentIndex(max(0, editor.findData(declared.check(value))))
    else:
        editor.setText(f"{value:g}" if isinstance(value, float) else str(value))
