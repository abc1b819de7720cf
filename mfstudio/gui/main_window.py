"""The main window: data on the left, results in the middle, the method on the right."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..data import SAMPLES, can_load, open_data
from ..data.download import download_movielens_100k
from ..data.errors import DataError
from ..experiment import Experiment
from ..models import MODELS
from ..models.stopping import stop_requested
from ..project import PROJECT_SUFFIX, Run, open_project, save_project
from .data_panel import DataPanel
from .model_panel import ModelPanel
from .views.base import fit_seconds, seconds_text as _seconds_text
from .views.training import TrainingView
from .worker import BUG_REPORT, ONE_FIT_AT_A_TIME, FitWorker, Task, wait_for_threads

MAX_RECENT = 10
REDRAW_INTERVAL_MS = 100  # live curves at 10 frames a second leave the event loop idle most of the time
#: How long closing waits for a cancelled fit to stop, the window already
#: hidden. Fits stop between chunks of ~60 ms; a kernel that does not (stuck,
#: or not chunked) is left running and the process ends at the event loop's end.
CLOSE_WAIT_SECONDS = 0.5


#: Where the window remembers :func:`mfstudio.warmup.kernel_cache_stamp` after a check found every kernel cached.
KERNEL_STAMP_KEY = "kernels/cached_stamp"


def result_views():
    """The result tabs, in order (imported here so tests can list them)."""
    from .views.factor_space import FactorSpaceView
    from .views.matrix import MatrixView
    from .views.metrics_table import MetricsView
    from .views.recommendations import RecommendationsView
    from .views.spectrum import SpectrumView
    from .views.sweep import SweepView
    from .views.topics import TopicsView

    return [SpectrumView, TopicsView, RecommendationsView, FactorSpaceView, MatrixView, MetricsView, SweepView]


class _ViewHolder(QWidget):
    """Holds a view in its tab's scroll area, scrolling only below the view's minimum size.

    Without it the scroll area asked the view's height for its width (a wrapped
    caption has one), got the preferred height, and scrolled views that fit.
    """

    def __init__(self, view):
        super().__init__()
        self.view = view
        view.setParent(self)
        view.installEventFilter(self)

    def eventFilter(self, watched, event):  # noqa: N802 - Qt API
        if watched is self.view and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the view's minimum changed: the scroll area re-sizes it
        return False

    def minimumSizeHint(self):  # noqa: N802 - Qt API
        return self.view.minimumSizeHint().expandedTo(self.view.minimumSize())

    def sizeHint(self):  # noqa: N802 - Qt API
        return self.minimumSizeHint()

    def resizeEvent(self, event):  # noqa: N802 - Qt API
        self.view.setGeometry(self.rect())
        super().resizeEvent(event)


class ViewPage(QScrollArea):
    """A result tab's page: its view in a scroll area, the view built when the tab is first shown.

    Building all seven result views at start-up took 0.6 s of the 2 s the window
    has to be ready (the Matrix view alone 0.3 s: pyqtgraph plots cost ~20 ms
    each), for tabs that stay greyed until a fit ends. Until its view exists,
    the page keeps what the window told it (the data, the runs it can draw and
    which one is chosen) and answers what the window asks (which runs it offers,
    whether it applies), so the tab bar greys and enables tabs as before; the
    view built later is given that same state, so it shows what a view built at
    start would show.

    The answers come from the view class's ``applies_to``, called without an
    instance: the one-run views decide from the data and the run alone. A view
    whose answer needs its own state (the Metrics table counts its runs) is
    built at once (``view=``).
    """

    def __init__(self, cls, setup=None, view=None):
        super().__init__()
        self.setWidgetResizable(True)  # the view fills the tab when it fits
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.cls = cls
        self.title = cls.title
        self.shows_one_run = cls.shows_one_run
        self._setup = setup
        self._view = None
        self.dataset = None
        self._offered: list = []
        self._choice = None
        if view is not None:
            self._adopt(view)

    @property
    def built_view(self):
        """The view if it was built, else None (asking does not build it)."""
        return self._view

    @property
    def view(self):
        """The view, built (and given the data and runs so far) on first access."""
        if self._view is None:
            view = self.cls()
            if self._setup is not None:
                self._setup(view)
            if self.dataset is not None:
                view.set_dataset(self.dataset)
            if self.shows_one_run and self._offered:
                view.offer_runs(self._offered, prefer=self._choice)
            self._adopt(view)
        return self._view

    def _adopt(self, view) -> None:
        self._view = view
        self.setWidget(_ViewHolder(view))

    # What the window tells every view, kept until the view exists.
    def set_dataset(self, dataset) -> None:
        if self._view is not None:
            self._view.set_dataset(dataset)
            return
        self.dataset = dataset
        self._offered, self._choice = [], None

    def offer_runs(self, runs, prefer=None) -> None:
        if self._view is not None:
            self._view.offer_runs(runs, prefer=prefer)
            return
        # ResultView.offer_runs's choice, with no user choice to keep (the Run box was never shown).
        offered = [run for run in runs if self._can_show(run)]
        previous = self._choice
        self._choice = (prefer if prefer in offered else previous if previous in offered
                        else (offered[-1] if offered else None))
        self._offered = offered

    def _can_show(self, run) -> bool:
        return (run is not None and getattr(run, "status", "finished") != "running" and bool(run.history)
                and self.applies_to(self.dataset, run))

    def offered_runs(self) -> list:
        return self._view.offered_runs() if self._view is not None else list(self._offered)

    def chosen_run(self):
        return self._view.chosen_run() if self._view is not None else self._choice

    def applies_to(self, dataset, run) -> bool:
        if self._view is not None:
            return self._view.applies_to(dataset, run)
        return self.cls.applies_to(self, dataset, run)


class ViewTabs(QTabWidget):
    """The result tabs; each view sits in a scroll area of its own.

    A tab page's minimum size is every page's largest (QStackedWidget), so one
    view wider than the screen widened the window whichever tab was shown (the
    Spectrum tab took it from 1280 to 1575 px). In a scroll area a view too
    large for the window scrolls instead. The views are what callers see:
    :meth:`currentWidget`, :meth:`setCurrentWidget` and :meth:`indexOf` take
    and give the view, not its scroll area.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        # Eight tabs in the middle of a 1280 px window: scroll arrows hid "Training" and
        # "Spectrum" off the left edge; slightly elided titles keep every tab in sight.
        self.setUsesScrollButtons(False)
        self.tabBar().setElideMode(Qt.TextElideMode.ElideRight)
        self.setStyleSheet("QTabBar::tab { padding: 4px 7px; }")

    def add_view(self, view, title: str) -> int:
        """Add a tab showing ``view``: a built view, or a :class:`ViewPage` that builds its view when first shown."""
        page = view if isinstance(view, ViewPage) else ViewPage(type(view), view=view)
        return self.addTab(page, title)

    def view_at(self, index: int):
        """The view shown by tab ``index`` (None if there is none); a view not built yet is built now."""
        page = self.widget(index)
        return page.view if isinstance(page, ViewPage) else page

    def page_at(self, index: int):
        """The :class:`ViewPage` of tab ``index`` (its view maybe not built yet)."""
        return self.widget(index)

    def currentWidget(self):  # noqa: N802 - Qt API
        return self.view_at(self.currentIndex())

    def indexOf(self, widget) -> int:  # noqa: N802 - Qt API
        # Asking where a view is must not build the others.
        for index in range(self.count()):
            page = self.widget(index)
            if page is widget or (isinstance(page, ViewPage) and page.built_view is widget):
                return index
        return -1

    def setCurrentWidget(self, widget) -> None:  # noqa: N802 - Qt API
        index = self.indexOf(widget)
        if index >= 0:
            self.setCurrentIndex(index)


class MainWindow(QMainWindow):
    """mfstudio's window. All numerical work runs on worker threads via the core API."""

    dataset_loaded = Signal(object)
    fit_finished = Signal(object)  # the Run
    fit_failed = Signal(str)

    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings("mfstudio", "mfstudio")
        self.dataset = None
        self.data_spec: str | None = None  # what the current data was opened from (for 'treat as')
        self.runs: list[Run] = []
        self.current_run: Run | None = None
        self.worker: FitWorker | None = None
        self.tasks: set[Task] = set()
        self.kernels_ready = False
        self._kernel_check: Task | None = None
        self._loading: Task | None = None  # the data load in progress, if any
        self._fit_started = 0.0
        self._dirty_runs: set = set()
        self._last_error: tuple[str, str] | None = None
        # Runs that ended (finished, cancelled or failed with epochs to show)
        # since the project was last saved, by id: the window asks before
        # anything throws them away.
        self._unsaved_runs: dict[int, Run] = {}
        self._closing = False

        self.setWindowTitle("mfstudio")
        self.setAcceptDrops(True)
        self.resize(1400, 880)

        # Results in the middle.
        self.tabs = ViewTabs()
        self.training = TrainingView()
        self.training.run_selected.connect(self.select_run)
        # The Training tab is shown first and the Metrics table's state is its runs: both
        # built now; the other result views when their tab is first shown (ViewPage).
        self.pages = [ViewPage(TrainingView, view=self.training)]
        for cls in result_views():
            eager = not cls.shows_one_run and cls.title == "Metrics"
            self.pages.append(ViewPage(cls, view=cls() if eager else None,
                                       setup=self._setup_sweep if cls.title == "Sweep" else None))
        self._spectrum_page = self._page("Spectrum")
        self._sweep_page = self._page("Sweep")
        self.metrics_view = self._page("Metrics").view
        for page in self.pages:
            self.tabs.add_view(page, page.title.replace("&", "&&"))  # a lone & would underline a shortcut
        # Result views are drawn when first shown, not all at once when a fit
        # ends: drawing six tabs in one go froze the window for a third of a second.
        self._updating_tabs = False
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)

        # Data on the left, method on the right.
        self.data_panel = DataPanel()
        self.data_panel.kind_requested.connect(self.reload_as)
        self.model_panel = ModelPanel()
        self.model_panel.run_requested.connect(
            lambda name, params, spec, seed: self.start_fit(name, params, spec, seed,
                                                            early_stopping=self.model_panel.early_stopping()))
        self.model_panel.cancel_requested.connect(self.cancel_fit)
        self.model_panel.method.currentIndexChanged.connect(self._on_method_changed)
        data_dock = self._dock("Data", self.data_panel, Qt.DockWidgetArea.LeftDockWidgetArea, min_width=240)
        # The model form does not reflow below its labels plus editors.
        model_dock = self._dock("Model", self.model_panel, Qt.DockWidgetArea.RightDockWidgetArea, min_width=330,
                                footer=self.model_panel.button_bar)
        # The results are the product: the side panels start narrow (a saved
        # layout, restored later, wins).
        self.resizeDocks([data_dock, model_dock], [300, 330], Qt.Orientation.Horizontal)

        # Status bar: what runs, epoch x of N, elapsed, progress.
        self.status_text = QLabel("Ready")
        self.epoch_text = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setVisible(False)
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.epoch_text)
        self.statusBar().addPermanentWidget(self.progress)

        self._build_menus()
        self._redraw = QTimer(self)
        self._redraw.setInterval(REDRAW_INTERVAL_MS)
        self._redraw.timeout.connect(self._flush_redraw)
        self._redraw.start()
        self._restore_settings()
        self._update_tab_states()  # no data yet: the result tabs start greyed

    # ------------------------------------------------------------- the views
    @property
    def views(self) -> list:
        """Every result tab's view, in tab order (builds the ones not shown yet)."""
        return [page.view for page in self.pages]

    @property
    def spectrum(self):
        return self._spectrum_page.view

    @property
    def sweep_view(self):
        return self._sweep_page.view

    def _page(self, title: str) -> ViewPage:
        return next(page for page in self.pages if page.title == title)

    def _setup_sweep(self, view) -> None:
        view.method_provider = lambda: (self.model_panel.model_name, self.model_panel.params())
        view.fit_requested.connect(self.fit_sweep_best)

    def _on_method_changed(self, _index) -> None:
        sweep = self._sweep_page.built_view  # a sweep view built later reads the method then
        if sweep is not None:
            sweep.refresh_method()

    def _dock(self, title, widget, area, min_width: int, footer=None):
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # panels reflow instead
        content = scroll
        if footer is not None:  # always visible below the scrolling part
            content = QWidget()
            column = QVBoxLayout(content)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(scroll, 1)
            column.addWidget(footer)
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")
        dock.setWidget(content)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        dock.setMinimumWidth(min_width)
        return dock

    # ------------------------------------------------------------------ menus
    def _action(self, menu, text, slot, shortcut=None):
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self):
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open...", self.choose_file, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &Folder...", self.choose_folder)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        samples = file_menu.addMenu("Open &Sample")
        for key, info in SAMPLES.items():
            self._action(samples, info.title, lambda checked=False, k=key: self.open_path(f"sample:{k}"))
        samples.addSeparator()
        self._action(samples, "MovieLens 100K (download)...", self.download_movielens)
        self._action(file_menu, "Paste a &Matrix...", self.paste_matrix, QKeySequence("Ctrl+Shift+V"))
        self._action(file_menu, "Attach &Item Features...", lambda: self.attach_features("item"))
        self._action(file_menu, "Attach &User Features...", lambda: self.attach_features("user"))
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("&Export")
        self._action(export_menu, "Current plot as PNG...", lambda: self.export_plot("png"))
        self._action(export_menu, "Current plot as SVG...", lambda: self.export_plot("svg"))
        self._action(export_menu, "Current table as CSV...", self.export_table)
        export_menu.addSeparator()
        self._action(export_menu, "Factors as CSV...", lambda: self.export_factors("csv"))
        self._action(export_menu, "Factors as NPZ...", lambda: self.export_factors("npz"))
        self._action(export_menu, "Factors as Parquet...", lambda: self.export_factors("parquet"))
        export_menu.addSeparator()
        self._action(export_menu, "Report (HTML)...", self.export_report)
        self._action(export_menu, "Run as Python script...", lambda: self.export_code(notebook=False))
        self._action(export_menu, "Run as Jupyter notebook...", lambda: self.export_code(notebook=True))
        file_menu.addSeparator()
        self._action(file_menu, "&Save Project...", self.choose_save_project, QKeySequence.StandardKey.Save)
        self._action(file_menu, "Open &Project...", self.choose_open_project, QKeySequence("Ctrl+Shift+O"))
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self._build_run_menu()
        help_menu = self.menuBar().addMenu("&Help")
        self.help_view_action = self._action(help_menu, "How to read this &view", lambda: self.show_view_help(),
                                             QKeySequence.StandardKey.HelpContents)
        read_menu = help_menu.addMenu("How to &read...")
        for page in self.pages:
            self._action(read_menu, page.title.replace("&", "&&"),
                         lambda checked=False, t=page.title: self.show_view_help(t))
        self._action(help_menu, "&User guide", self.show_user_guide)
        help_menu.addSeparator()
        self._action(help_menu, "&About mfstudio", self.about)
        self._rebuild_recent()

    def _build_run_menu(self):
        """Run and View menus: the keyboard shortcuts a daily user needs, listed where they can be found."""
        run_menu = self.menuBar().addMenu("&Run")
        self.run_action = self._action(run_menu, "&Run", self.model_panel.run_button.click, QKeySequence("Ctrl+R"))
        # Esc first: the menu shows the first shortcut, and Esc is what people try.
        self.cancel_action = self._action(run_menu, "&Cancel", self.cancel_fit)
        self.cancel_action.setShortcuts([QKeySequence("Esc"), QKeySequence("Ctrl+.")])
        self.cancel_action.setEnabled(False)
        run_menu.addSeparator()
        self.copy_python_action = self._action(run_menu, "Copy Run as &Python", self.copy_run_as_python,
                                               QKeySequence("Ctrl+Shift+C"))
        # Run and Cancel follow the model panel's buttons (kernels preparing, a fit running).
        self.model_panel.run_button.installEventFilter(self)
        self.model_panel.cancel_button.installEventFilter(self)
        view_menu = self.menuBar().addMenu("&View")
        self.next_tab_action = self._action(view_menu, "&Next tab", lambda: self.step_tab(1))
        self.next_tab_action.setShortcuts([QKeySequence("Ctrl+PgDown"), QKeySequence("Ctrl+Tab")])
        self.previous_tab_action = self._action(view_menu, "&Previous tab", lambda: self.step_tab(-1))
        self.previous_tab_action.setShortcuts([QKeySequence("Ctrl+PgUp"), QKeySequence("Ctrl+Shift+Tab")])

    def eventFilter(self, watched, event):  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.EnabledChange:
            if watched is self.model_panel.run_button:
                self.run_action.setEnabled(watched.isEnabled())
            elif watched is self.model_panel.cancel_button:
                self.cancel_action.setEnabled(watched.isEnabled())
        return super().eventFilter(watched, event)

    def step_tab(self, step: int) -> int:
        """Go to the next (``step`` 1) or previous (-1) enabled result tab, wrapping; returns the new index."""
        count = self.tabs.count()
        index = self.tabs.currentIndex()
        for _ in range(count):
            index = (index + step) % count
            if self.tabs.isTabEnabled(index):
                self.tabs.setCurrentIndex(index)
                break
        return self.tabs.currentIndex()

    def show_view_help(self, title: str | None = None):
        """Open "how to read" the result tab ``title`` (default: the current tab); returns the window."""
        view = self.current_view() if title is None else self._page(title).view
        return view.show_help()

    def show_user_guide(self):
        """Open the bundled user guide (one window, brought forward if already open); returns it."""
        from .help import show_user_guide

        guide = getattr(self, "_guide_dialog", None)
        if guide is not None:
            try:
                guide.raise_()
                guide.activateWindow()
                return guide
            except RuntimeError:  # closed and deleted by Qt
                pass
        self._guide_dialog = show_user_guide(self)
        return self._guide_dialog

    def about(self):
        from .. import __version__

        QMessageBox.about(
            self, "About mfstudio",
            f"<b>mfstudio {__version__}</b><p>A workbench for seeing matrix factorization work: "
            "drop in ratings, text or images, pick a method and watch it learn.</p>",
        )

    # --------------------------------------------------------------- settings
    def _restore_settings(self):
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        saved = self.settings.value("model/params")
        if isinstance(saved, str):
            try:
                import json

                self.model_panel.restore_params(json.loads(saved))
            except ValueError:
                pass
        method = self.settings.value("model/method")
        if isinstance(method, str):
            self.model_panel.select_method(method)

    def _save_settings(self):
        import json

        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("model/params", json.dumps(self.model_panel.remembered_params()))
        self.settings.setValue("model/method", self.model_panel.model_name)
        self.settings.sync()

    def last_folder(self) -> str:
        folder = self.settings.value("files/last_folder", "")
        return folder if isinstance(folder, str) and os.path.isdir(folder) else str(Path.home())

    def recent_files(self) -> list[str]:
        value = self.settings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [p for p in (value or []) if isinstance(p, str)]

    def _remember(self, path: str):
        if path.startswith("sample:"):
            return
        recent = [p for p in self.recent_files() if p != path]
        self.settings.setValue("files/recent", [path, *recent][:MAX_RECENT])
        self.settings.setValue("files/last_folder", str(Path(path).parent if Path(path).is_file() else Path(path)))
        self._rebuild_recent()

    def _rebuild_recent(self):
        self.recent_menu.clear()
        existing = [p for p in self.recent_files() if os.path.exists(p)]
        if existing != self.recent_files():  # vanished paths are dropped
            self.settings.setValue("files/recent", existing)
        for path in existing:
            self._action(self.recent_menu, path, lambda checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(existing))

    # ------------------------------------------------------------ loading
    def choose_file(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open data", self.last_folder(),
                                              "Data (*.csv *.tsv *.dat *.data *.txt *.mtx *.npz *.npy *.png *.jpg);;All files (*)")
        if path:
            self.open_path(path)

    def choose_folder(self):
        path = QFileDialog.getExistingDirectory(self, "Open a folder of documents, images or MovieLens", self.last_folder())
        if path:
            self.open_path(path)

    def open_path(self, path: str, kind: str | None = None) -> Task | None:
        """Load a file, folder or ``sample:NAME`` on a worker; the current data stays until it succeeds.

        ``kind`` overrides what the loader would decide (the data panel's "treat as").
        Returns None, loading nothing, when there are unsaved runs and the
        user cancels (:meth:`confirm_discard_runs`).
        """
        path = str(path)
        if path.endswith(PROJECT_SUFFIX):
            return self.open_project_file(path)
        if not self.confirm_discard_runs("open other data"):
            return None
        self.set_status(f"Loading {Path(path).name if not path.startswith('sample:') else path}...")
        task = Task(open_data, path, kind=kind) if kind else Task(open_data, path)
        task.done.connect(lambda ds: self._on_loaded(ds, path))
        task.failed.connect(self._on_load_failed)
        self._track_loading(task)
        self._start_task(task)
        return task

    def _track_loading(self, task: Task) -> None:
        # Cleared by the load's own done/failed (not the thread's end, which comes later): a check that
        # ends in between would otherwise wait for a signal already delivered.
        self._loading = task

        def ended(*_args):
            if self._loading is task:
                self._loading = None

        task.done.connect(ended)
        task.failed.connect(ended)

    def _start_task(self, task: Task):
        self.tasks.add(task)
        task.thread.finished.connect(lambda: self.tasks.discard(task))
        task.start()

    def reload_as(self, kind: str) -> Task | None:
        """Load the current data again, treated as ``kind`` (the data panel's "treat as")."""
        if self.data_spec is None:
            return None
        return self.open_path(self.data_spec, kind=kind)

    def _on_loaded(self, dataset, path: str):
        self.data_spec = path
        self._remember(path)
        self.set_dataset(dataset)
        self.set_status(f"Loaded {dataset.name}: {dataset.n_rows:,} x {dataset.n_cols:,}, {dataset.nnz:,} entries")

    def _on_load_failed(self, message: str, details: str):
        self.set_status("Could not load the data")
        self.show_error(message, details)

    def set_dataset(self, dataset, runs: list[Run] | None = None):
        """Show a dataset (and, from a project, its runs) in every panel and view."""
        if self.worker is not None:
            self.cancel_fit(wait=True)
        self.dataset = dataset
        self.runs = []
        self.current_run = None
        self._unsaved_runs = {}  # asked about before loading; a project's own runs are saved
        self.setWindowTitle(f"mfstudio — {dataset.name}")
        self.epoch_text.setText("")  # a count from the last data's fit is not this data's
        self.data_panel.set_dataset(dataset)
        self.model_panel.set_dataset(dataset)
        for page in self.pages:
            page.set_dataset(dataset)
        for run in runs or []:
            self.runs.append(run)
            self.training.add_run(run)
        self.metrics_view.set_runs(self.runs)
        if runs:
            self.select_run(runs[-1])
        self._offer_runs()
        self.dataset_loaded.emit(dataset)

    def download_movielens(self):
        self.set_status("Downloading MovieLens 100K...")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        task = Task(download_movielens_100k, with_progress=True)

        def on_progress(done, total):
            if total:
                self.progress.setRange(0, 1000)
                self.progress.setValue(int(1000 * done / total))
            self.epoch_text.setText(f"{done / 2**20:.1f} MB" + (f" of {total / 2**20:.1f} MB" if total else ""))

        def on_done(folder):
            self.progress.setVisible(False)
            self.epoch_text.setText("")
            self.open_path(str(folder))

        def on_failed(message, details):
            self.progress.setVisible(False)
            self.epoch_text.setText("")
            self.set_status("Download failed")
            self.show_error(message, details)

        task.progress.connect(on_progress)
        task.done.connect(on_done)
        task.failed.connect(on_failed)
        self._start_task(task)

    # ------------------------------------------------------------- drag/drop
    @staticmethod
    def _local_paths(mime) -> list[str]:
        if not mime.hasUrls():
            return []
        return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]

    def dragEnterEvent(self, event):  # noqa: N802 - Qt API
        paths = self._local_paths(event.mimeData())
        # Refuse before the drop when no reader exists (Orange's File widget does this).
        if paths and all(can_load(p) or p.endswith(PROJECT_SUFFIX) for p in paths):
            event.acceptProposedAction()
        else:
            event.ignore()

    dragMoveEvent = dragEnterEvent

    def dropEvent(self, event):  # noqa: N802
        paths = self._local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(paths[0])

    # ---------------------------------------------------------------- fitting
    def warm_up_kernels(self) -> Task:
        """Make the kernels ready: at once from a warm cache, else compiled on a worker with a visible status.

        Asking numba's cache takes a fraction of a second (on a worker, so the
        window stays live); on a warm cache the window is ready at once and
        each kernel loads from the cache on its first call (milliseconds).
        Only when kernels are missing (the first start, or after an update)
        does the status say "Preparing kernels (first run only)" and Run wait
        for the selected method.

        The app asks right after the window is first painted, while the data
        loads: the check (importing numba and the kernel modules, 0.3-0.6 s)
        then overlaps the load instead of following it. Compiling holds the
        GIL for long stretches (it made the sample take 6 s to appear), so
        when kernels are missing the compiling waits for a load in progress
        to end. Calling again returns the same check.
        """
        if self._kernel_check is not None:
            return self._kernel_check
        from ..warmup import kernel_cache_stamp, kernels_missing_from_cache

        # Under the fit lock: the check imports numba, and a fit started meanwhile imports it too; two
        # threads importing numba at once left it half-initialised and both failed (a circular-import error).
        task = Task(kernels_missing_from_cache, lock=ONE_FIT_AT_A_TIME)
        self._kernel_check = task
        stamp = kernel_cache_stamp()
        remembered = stamp is not None and self.settings.value(KERNEL_STAMP_KEY) == stamp
        if remembered:
            # Nothing changed since a check found every kernel cached: ready now, without
            # importing numba first (0.3-0.8 s); the check still runs, after the load, to confirm.
            self.kernels_ready = True

        def checked(missing):
            if missing:
                self.kernels_ready = False
                self.settings.remove(KERNEL_STAMP_KEY)
                self._after_loading(lambda: self._compile_kernels(len(missing)))
                return
            self._remember_kernel_stamp()
            self.kernels_ready = True
            self.model_panel.set_preparing(False)
            if remembered or (self.dataset is None and self._loading is not None):
                return  # the "Loading..." / "Loaded ..." line says more than "Ready"
            self.set_status("Ready. Kernels load from numba's cache as they are needed.")

        task.done.connect(checked)
        task.failed.connect(lambda _message, _details: self._after_loading(lambda: self._compile_kernels(None)))
        if remembered:
            self._after_loading(lambda: self._start_task(task))
        else:
            self._start_task(task)
        return task

    def _remember_kernel_stamp(self) -> None:
        from ..warmup import kernel_cache_stamp

        stamp = kernel_cache_stamp()
        if stamp is not None:
            self.settings.setValue(KERNEL_STAMP_KEY, stamp)
            self.settings.sync()  # the next launch reads it even if this one ends abruptly

    def _after_loading(self, call) -> None:
        """``call()`` now, or when the data load in progress has ended (loaded or failed)."""
        loading = self._loading
        if loading is None:
            call()
            return
        once = []

        def go(*_args):
            if not once:
                once.append(True)
                QTimer.singleShot(0, call)  # after the load's own slots have shown the data

        loading.done.connect(go)
        loading.failed.connect(go)

    def _compile_kernels(self, missing: int | None) -> Task:
        """Compile the kernels the cache lacks on a worker, the selected method first."""
        from ..warmup import warm_up

        self.set_status("Preparing kernels (first run only)..." if missing is None
                        else f"Preparing kernels (first run only: {missing} to compile)...")
        self.model_panel.set_preparing(True)
        # The selected method first, the lock per method: Run works as soon as
        # that one is ready, and a fit waits at most for the method in progress.
        task = Task(warm_up, first=self.model_panel.model_name, lock=ONE_FIT_AT_A_TIME, with_progress=True)

        def progress(done_count, total):
            if done_count >= 1:
                self.model_panel.set_preparing(False)
            if done_count < total:
                self.set_status(f"Preparing kernels (first run only): {int(done_count)} of {int(total)} methods ready")

        def done(stats):
            self.kernels_ready = True
            self._remember_kernel_stamp()
            self.model_panel.set_preparing(False)
            source = "from cache" if stats["compiled"] == 0 else f"compiled {stats['compiled']}"
            self.set_status(f"Kernels ready in {stats['seconds']:.1f} s ({source})")

        def failed(message, details):
            self.kernels_ready = True
            self.model_panel.set_preparing(False)
            self.set_status("Kernels could not be prepared in advance; they will compile on first use")

        task.progress.connect(progress)
        task.done.connect(done)
        task.failed.connect(failed)
        self._start_task(task)
        return task

    def start_fit(self, model_name: str, params: dict, split_spec: str | None, seed: int,
                  early_stopping: int | None = None) -> Run | None:
        """Set up an experiment (protocol, reference, scoring) and fit it on a worker, drawing as it learns.

        ``split_spec`` is a protocol from :data:`mfstudio.experiment.PROTOCOL_FORMS`
        (None: the one chosen for the data). Splitting, the reference model and
        the scores all come from :class:`mfstudio.experiment.Experiment`.
        """
        if self.dataset is None:
            self.show_error("Load some data first (File > Open, or drop a file on the window).", "")
            return None
        if self.worker is not None:
            return None
        cls = MODELS[model_name]
        if self.dataset.kind not in cls.kinds:
            self.show_error(f"{cls.title} does not fit {self.dataset.kind} data; choose another method.", "")
            return None
        try:
            experiment = Experiment(self.dataset, cls, params, protocol=split_spec, seed=seed,
                                    early_stopping=early_stopping)
            model = experiment.new_model()
            model.validate_params()  # a bad value is refused at Run, before the split and the reference fit
        except (TypeError, ValueError, DataError) as exc:
            param = getattr(exc, "param", None)
            if param in self.model_panel.params():
                self.model_panel.editor(param).setFocus()
            self.show_error(str(exc), "")
            return None
        number = sum(1 for r in self.runs if r.model.name == model_name) + 1
        run = Run(name=f"{cls.title or model_name} #{number}", model=model)
        run.protocol = experiment.protocol_line
        if params.get("engine") == "spark":
            run.protocol += (" Fitted on Spark, which reports no loss per epoch: the curve has one point, at the end "
                             "of the fit; the progress bar follows Spark's tasks meanwhile.")
        run.reference_name = experiment.reference_name
        run.experiment = experiment
        dataset = self.dataset

        def steps():
            experiment.prepare()
            first = experiment.splits[0]
            run.split_description = experiment.split_report()
            if first is not None:
                run.train_index, run.test_index = first.train_index, first.test_index
            run.baseline_metrics = dict(experiment.reference_metrics)
            if experiment.n_folds > 1:  # the curves drawn are the first fold's; the table compares means
                run.curve_reference_metrics = dict(experiment.reference_by_fold.get(0, {}))
            for index in range(experiment.n_folds):
                if stop_requested():  # a cancel mid-epoch ends the fold without a step to break on
                    return
                yield from experiment.iter_fold(index, model=model if index == 0 else None)

        self.runs.append(run)
        self.current_run = run
        self.training.add_run(run)
        self.training.fit_started(model.expected_steps())
        self.tabs.setCurrentWidget(self.training)
        self.worker = FitWorker(model, steps=steps)
        self.worker.steps.connect(lambda steps: self._on_steps(run, steps))
        self.worker.finished.connect(lambda cancelled: self._on_fit_done(run, cancelled))
        self.worker.failed.connect(lambda message, details: self._on_fit_failed(run, message, details))
        # A fit on Spark yields no epoch until it ends: its jobs' progress comes here instead.
        self.worker.progress.connect(self._on_engine_progress)
        self.model_panel.set_running(True)
        self.progress.setVisible(True)
        self.progress.setRange(0, max(model.expected_steps(), 1))
        self.progress.setValue(0)
        self._fit_started = time.perf_counter()
        self.set_status(f"Fitting {run.name} on {dataset.name}...")
        self.epoch_text.setText("")
        self.worker.start()
        return run

    def fit_sweep_best(self, model_name: str, params: dict) -> Run | None:
        """Fit a sweep's best point as an ordinary run: its values go into the Model panel, then Run."""
        self.model_panel.select_method(model_name)
        for name, value in params.items():
            if name in self.model_panel.params():
                self.model_panel.set_param(name, value)
        return self.start_fit(model_name, self.model_panel.params(), self.model_panel.split_spec(),
                              self.model_panel.seed.value(), early_stopping=self.model_panel.early_stopping())

    def _on_engine_progress(self, done: int, total: int, text: str) -> None:
        # A sentence ("Spark: stage 3, 40 of 64 tasks") in the wide status line: the epoch label
        # beside the bar is sized for "epoch 12 of 20  3.1 s" and cut it to one letter.
        self.progress.setRange(0, max(int(total), 1))
        self.progress.setValue(int(done))
        self.epoch_text.setText("")
        self.set_status(text)

    def _on_steps(self, run: Run, steps: list):
        # The model appended the steps to its history already; just redraw soon.
        self._dirty_runs.add(run)
        last = steps[-1]
        self.progress.setRange(0, last.n_epochs)
        self.progress.setValue(last.epoch)
        experiment = getattr(run, "experiment", None)
        folds = experiment.n_folds if experiment is not None and experiment.splits else 1
        fold = f"fold {len(experiment.folds) + 1} of {folds}, " if folds > 1 and len(experiment.folds) < folds else ""
        self.epoch_text.setText(f"{fold}epoch {last.epoch} of {last.n_epochs}  {time.perf_counter() - self._fit_started:.1f} s")

    def _flush_redraw(self):
        for run in list(self._dirty_runs):
            self.training.refresh_run(run)
            last = run.history[-1] if run.history else None
            if run.status == "running" and last is not None and "singular_values" in last.extra:
                # The spectrum fills in live while a randomized SVD iterates.
                self.spectrum.show_step(last, rank=run.params.get("n_factors"))
                self.tabs.setTabEnabled(self.pages.index(self._spectrum_page), True)
        self._dirty_runs.clear()

    def _finish_worker(self):
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
        self.model_panel.set_running(False)
        self.progress.setVisible(False)
        self.training.fit_ended()

    def _on_fit_done(self, run: Run, cancelled: bool):
        self._finish_worker()
        run.status = "cancelled" if cancelled else "finished"
        history = run.history
        if history:
            self._unsaved_runs[id(run)] = run
        experiment = getattr(run, "experiment", None)
        if experiment is not None and experiment.folds:
            run.metrics = experiment.metrics
            run.metrics_spread = experiment.metrics_spread
            run.baseline_metrics = dict(experiment.reference_metrics)
        elif history:
            run.metrics = dict(history[-1].metrics)
        self._dirty_runs.add(run)
        self._flush_redraw()
        status = self.finished_status(run, cancelled, time.perf_counter() - self._fit_started)
        stopping = experiment.early_stopping_notes() if experiment is not None else []
        if stopping:  # "stopped at epoch 16 of 200: validation rmse had not improved for 5 epochs; kept epoch 11"
            said = "; ".join(stopping)
            said = said if said.lower().startswith("early stopping") else f"Early stopping: {said}"
            status += f" {said[0].upper()}{said[1:]}."
            run.protocol = f"{run.protocol} {said[0].upper()}{said[1:]}."
        self.set_status(status)
        self.epoch_text.setText("")  # the status line has the count now; a stale one misleads after new data
        self.metrics_view.set_runs(self.runs)
        if history:
            self.select_run(run)
        else:
            self._offer_runs()
        self.fit_finished.emit(run)

    @staticmethod
    def finished_status(run: Run, cancelled: bool, total_seconds: float) -> str:
        """The status line for an ended run.

        Its time is the model's own training time, as the Metrics table shows it;
        the wall-clock total (split, reference model, scoring included) follows,
        named as such, when it differs visibly.
        """
        what = "Cancelled" if cancelled else "Finished"
        training = fit_seconds(run)
        if training is None:
            took = f"{total_seconds:.1f} s total"
        else:
            took = f"{_seconds_text(training)} training"
            if total_seconds - training >= 0.05:
                took += f" ({_seconds_text(total_seconds)} total)"
        shown = ", ".join(f"{k} {v:.4f}" for k, v in list(run.metrics.items())[:2])
        if run.params.get("engine") == "spark":  # one step, at the end: Spark reports no epochs
            return f"{what} {run.name} on Spark ({run.params.get('spark_master')}) in {took}. {shown}".rstrip()
        return f"{what} {run.name} after {len(run.history)} epochs in {took}. {shown}".rstrip()

    def _on_fit_failed(self, run: Run, message: str, details: str):
        self._finish_worker()
        run.status = "failed"
        if run.history:
            self._unsaved_runs[id(run)] = run
        self._dirty_runs.add(run)
        self._flush_redraw()
        self.metrics_view.set_runs(self.runs)
        if run.history:  # keep the last good state on screen
            self.select_run(run)
        else:
            self._offer_runs()
        self.set_status(f"{run.name} failed")
        self.show_error(message, details)
        self.fit_failed.emit(message)

    def cancel_fit(self, wait: bool = False):
        """Stop the running fit after its current epoch."""
        if self.worker is None:
            return
        self.set_status("Cancelling...")
        self.worker.cancel()
        if wait:
            self.worker.wait()

    def select_run(self, run: Run):
        """Focus a run (one that just finished, or clicked in a history).

        The Training and Metrics tabs highlight it; every other tab that can
        draw it chooses it in its own Run box. A tab that cannot keeps the run
        it had (the latest it can draw), so Spectrum still shows the last SVD
        after an SGD run.
        """
        self.current_run = run
        self.training.select_run(run)
        self.metrics_view.set_run(run)
        self._offer_runs(prefer=run)

    def _offer_runs(self, prefer: Run | None = None):
        """Give every one-run tab the runs it can draw (``prefer`` chosen where it can be)."""
        for page in self.pages:
            if page.shows_one_run:
                page.offer_runs(self.runs, prefer=prefer)
        self._refresh_current_view()
        self._update_tab_states()

    def _refresh_current_view(self):
        # The other tabs draw their chosen run when they are shown: drawing a
        # factor map or a reconstruction nobody looks at would slow every fit's end.
        view = self.tabs.currentWidget()
        if view is self._spectrum_page.built_view and self.worker is not None and view.live:
            return  # it is drawing the fit in progress; the finished run replaces it at the end
        if getattr(view, "shows_one_run", False):
            view.show_chosen_run()

    def show_view(self, title: str):
        """Bring the result tab with this title to the front (drawn if it was stale)."""
        view = self._page(title).view
        self.tabs.setCurrentWidget(view)
        self._refresh_current_view()
        return view

    def _on_tab_changed(self, _index) -> None:
        if not self._updating_tabs:
            self._refresh_current_view()

    def _update_tab_states(self):
        # Disabling the current tab moves Qt's current index along every tab in turn
        # (at start, all of them): the views are built and drawn for the one it stops at only.
        before = self.tabs.currentIndex()
        self._updating_tabs = True
        try:
            self._set_tab_states()
            if not self.tabs.isTabEnabled(self.tabs.currentIndex()):
                # No tab left enabled (no data yet): Qt had walked to the last tab, and the window
                # opened on Sweep; Training is where a session starts (and its view exists already).
                self.tabs.setCurrentIndex(0)
        finally:
            self._updating_tabs = False
        if self.tabs.currentIndex() != before:
            self._refresh_current_view()

    def _set_tab_states(self):
        spectrum = self._spectrum_page.built_view
        for index, page in enumerate(self.pages):
            if page.shows_one_run:
                enabled = bool(page.offered_runs()) or (page.built_view is spectrum is not None and spectrum.live)
            else:
                enabled = page.applies_to(self.dataset, self.current_run)
            self.tabs.setTabEnabled(index, enabled)

    # ---------------------------------------------------------------- errors
    def show_error(self, message: str, details: str):
        """One clear sentence; the traceback behind 'Show Details'.

        A message from :func:`~mfstudio.gui.worker.user_message` that starts
        with :data:`~mfstudio.gui.worker.BUG_REPORT` is a bug, not the user's
        mistake: it gets the critical icon and a "bug report" title.
        """
        self._last_error = (message, details)
        bug = message.startswith(BUG_REPORT)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Critical if bug else QMessageBox.Icon.Warning)
        box.setWindowTitle("mfstudio: bug report" if bug else "mfstudio")
        box.setText(message)
        if details:
            box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self._error_box = box

    def set_status(self, text: str):
        self.status_text.setText(text)

    # ---------------------------------------------------------------- export
    def current_view(self):
        return self.tabs.currentWidget()

    def _ask_path(self, title: str, suffix: str) -> str | None:
        default = os.path.join(self.last_folder(), f"mfstudio-{self.current_view().title.lower()}.{suffix}")
        path, _ = QFileDialog.getSaveFileName(self, title, default, f"*.{suffix}")
        return path or None

    def export_plot(self, fmt: str, path: str | None = None):
        plot = self.current_view().export_plot()
        if plot is None:
            self.show_error("This tab has no plot to export; try another tab.", "")
            return None
        path = path or self._ask_path("Export plot", fmt)
        if path:
            from . import export  # pyqtgraph's exporters: imported when first used, not at start

            export.export_plot(plot, path)
            self.set_status(f"Saved {path}")
        return path

    def export_table(self, path: str | None = None):
        table = self.current_view().export_table()
        if table is None:
            self.show_error("This tab has no table to export; try another tab.", "")
            return None
        path = path or self._ask_path("Export table", "csv")
        if path:
            from . import export

            export.export_table(table, path)
            self.set_status(f"Saved {path}")
        return path

    def export_factors(self, fmt: str, path: str | None = None):
        # The run the user is looking at: the current tab's own choice, else the focused run.
        view = self.current_view()
        run = view.chosen_run() if getattr(view, "shows_one_run", False) and view.chosen_run() else self.current_run
        if run is None or not run.history:
            self.show_error("Fit a model first: factors come from a finished run.", "")
            return None
        path = path or self._ask_path("Export factors", fmt)
        if path:
            from . import export

            try:
                written = export.export_factors(run.model, path, fmt)
            except (OSError, ValueError) as exc:
                self.show_error(f"Could not write the factors: {exc}", "")
                return None
            self.set_status("Saved " + ", ".join(str(p) for p in written))
        return path

    def _shown_run(self) -> Run | None:
        """The run the user is looking at: the current tab's own choice, else the focused run."""
        view = self.current_view()
        chosen = view.chosen_run() if getattr(view, "shows_one_run", False) else None
        return chosen or self.current_run

    def _run_code(self, notebook: bool = False) -> str | None:
        from ..export_code import notebook_for, script_for

        run = self._shown_run()
        if run is None or not run.history:
            self.show_error("Fit a model first: the code makes a finished run again.", "")
            return None
        try:
            if notebook:
                import nbformat

                return nbformat.writes(notebook_for(run))
            return script_for(run)
        except ImportError:
            self.show_error("Writing a notebook needs the nbformat package: pip install nbformat", "")
        except DataError as exc:
            self.show_error(str(exc), "")
        return None

    def copy_run_as_python(self) -> str | None:
        """Put a script that makes the shown run again (load, split, fit, score, plot) on the clipboard."""
        text = self._run_code()
        if text is not None:
            QApplication.clipboard().setText(text)
            self.set_status(f"Copied a {len(text.splitlines())}-line Python script of {self._shown_run().name} "
                            "to the clipboard: it loads the data, splits with the same seed, fits and prints the scores")
        return text

    def export_code(self, notebook: bool = False, path: str | None = None) -> str | None:
        """Write the shown run as a Python script (or a Jupyter notebook) to a new file."""
        text = self._run_code(notebook)
        if text is None:
            return None
        path = path or self._ask_path("Export run as code", "ipynb" if notebook else "py")
        if path:
            from ..savefiles import atomic_write

            if Path(path).exists():
                self.show_error(f"{Path(path).name} is already there; choose another name.", "")
                return None
            atomic_write(Path(path), lambda file: file.write(text.encode("utf-8")))
            self.set_status(f"Saved {path}")
        return path

    def export_report(self, path: str | None = None) -> str | None:
        """Write one self-contained HTML report of the data and every finished run."""
        from ..report import write_report

        runs = [run for run in self.runs if run.history and run.status != "running"]
        if self.dataset is None or not runs:
            self.show_error("Fit a model first: the report shows the data and the finished runs.", "")
            return None
        path = path or self._ask_path("Export report", "html")
        if path:
            try:
                written = write_report(path, self.dataset, runs)
            except DataError as exc:
                self.show_error(str(exc), "")
                return None
            self.set_status(f"Saved the report of {len(runs)} runs: {written} (print it from a browser for a PDF)")
        return path

    def paste_matrix(self, text: str | None = None, zero_is_unknown: bool | None = None):
        """Load a grid typed or pasted as text (a tutorial's matrix); asks in a dialog unless ``text`` is given."""
        from ..data.samples import parse_grid_text
        from .paste_dialog import PasteMatrixDialog

        if text is None:
            dialog = PasteMatrixDialog(self)
            if dialog.exec() != PasteMatrixDialog.DialogCode.Accepted:
                return None
            text, zero_is_unknown = dialog.text(), dialog.zero_is_unknown()
        if not self.confirm_discard_runs("load the pasted matrix"):
            return None
        try:
            dataset = parse_grid_text(text, zero_is_unknown=bool(zero_is_unknown if zero_is_unknown is not None
                                                                 else True))
        except DataError as exc:
            self.show_error(str(exc), "")
            return None
        self.data_spec = None
        self.set_dataset(dataset)
        self.set_status(f"Loaded the pasted matrix: {dataset.n_rows} x {dataset.n_cols}, {dataset.nnz} known cells"
                        + (" (0 = unknown)" if zero_is_unknown is not False else ""))
        return dataset

    def attach_features(self, entity: str, path: str | None = None):
        """Add item or user side features from a file to the loaded data (asks for the file unless ``path``).

        The file holds the id, then categorical columns (``|`` separates several values, as
        MovieLens' genres); the same reader as ``fit --item-features/--user-features``. The data
        changes, so the runs fitted without the features are offered for saving first.
        """
        from ..data.features import attach_feature_file

        if self.dataset is None:
            self.show_error("Load some ratings first; side features describe their items or users.", "")
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, f"Attach {entity} features: id, then columns such as genre or age", self.last_folder(),
                "Tables (*.csv *.tsv *.txt *.dat *.item *.user);;All files (*)")
            if not path:
                return None
        try:
            dataset = attach_feature_file(self.dataset, path, entity)
        except DataError as exc:
            self.show_error(str(exc), "")
            return None
        if not self.confirm_discard_runs(f"attach {entity} features"):
            return None
        self.set_dataset(dataset)
        features = dataset.item_features if entity == "item" else dataset.user_features
        self.set_status(f"Attached {features.describe(entity)}")
        return dataset

    # --------------------------------------------------------------- projects
    def choose_save_project(self):
        if self.dataset is None:
            self.show_error("There is nothing to save yet: load some data first.", "")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save project", os.path.join(self.last_folder(), "session" + PROJECT_SUFFIX),
                                              f"mfstudio project (*{PROJECT_SUFFIX})")
        if path:
            self.save_project_file(path)

    def save_project_file(self, path: str):
        view_state = {"tab": self.tabs.currentIndex(), "method": self.model_panel.model_name,
                      "current_run": self.runs.index(self.current_run) if self.current_run in self.runs else None}
        try:
            # The save dialog has asked before replacing; save_project still never replaces a foreign file.
            written = save_project(path, self.dataset, self.runs, view_state, overwrite=True)
        except DataError as exc:
            self.show_error(f"Could not save the project: {exc}", "")
            return None
        except OSError as exc:
            self.show_error(f"Could not save the project: {exc.strerror or exc}.", "")
            return None
        self._remember(str(written))
        self._unsaved_runs = {}
        self.set_status(f"Saved project {written}")
        return written

    def choose_open_project(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self.last_folder(), f"mfstudio project (*{PROJECT_SUFFIX})")
        if path:
            self.open_project_file(path)

    def open_project_file(self, path: str) -> Task | None:
        if not self.confirm_discard_runs("open the project"):
            return None
        self.set_status(f"Opening project {Path(path).name}...")
        task = Task(open_project, path)

        def done(result):
            dataset, runs, view_state = result
            self.set_dataset(dataset, runs)
            self._remember(path)
            index = view_state.get("current_run")
            if index is not None and 0 <= index < len(runs):
                self.select_run(runs[index])
            if view_state.get("method"):
                self.model_panel.select_method(view_state["method"])
            if isinstance(view_state.get("tab"), int):
                self.tabs.setCurrentIndex(view_state["tab"])
            self.set_status(f"Opened project {Path(path).name}: {len(runs)} runs")

        task.done.connect(done)
        task.failed.connect(self._on_load_failed)
        self._track_loading(task)
        self._start_task(task)
        return task

    # ----------------------------------------------------------------- close
    def unsaved_runs(self) -> list[Run]:
        """Runs of this window that ended since the project was last saved (or opened)."""
        return [run for run in self.runs if id(run) in self._unsaved_runs]

    def ask_unsaved_runs(self, action: str) -> str:
        """Ask what to do with the unsaved runs before ``action``: "save", "discard" or "cancel".

        The only place that shows the question: tests replace it to answer.
        """
        count = len(self.unsaved_runs())
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("mfstudio")
        box.setText(f"{count} run{'s' if count != 1 else ''} {'are' if count != 1 else 'is'} not saved. "
                    f"Save them in a project before you {action}?")
        box.setInformativeText("Discarded runs cannot be recovered.")
        save = box.addButton("Save Project...", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save)
        box.setEscapeButton(cancel)
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "discard" if clicked is discard else "cancel"

    def confirm_discard_runs(self, action: str) -> bool:
        """True when ``action`` (which throws the runs away) may go ahead.

        Without unsaved runs it may at once; otherwise the user chooses
        (:meth:`ask_unsaved_runs`): save them first (going ahead only once the
        project is written), discard them, or cancel.
        """
        if not self.unsaved_runs():
            return True
        answer = self.ask_unsaved_runs(action)
        if answer == "discard":
            return True
        if answer == "save":
            path = self.ask_project_path()
            return bool(path) and self.save_project_file(path) is not None
        return False

    def ask_project_path(self) -> str | None:
        """The file the user chooses to save the project to (None if they cancel)."""
        path, _ = QFileDialog.getSaveFileName(self, "Save project", os.path.join(self.last_folder(), "session" + PROJECT_SUFFIX),
                                              f"mfstudio project (*{PROJECT_SUFFIX})")
        return path or None

    def closeEvent(self, event):  # noqa: N802
        """Ask about unsaved runs, hide at once, save the settings, stop the workers.

        Never blocks for more than :data:`CLOSE_WAIT_SECONDS`: a fit stops
        between chunks of an epoch well within it; a kernel that does not
        return in time is left to the process's end (:func:`mfstudio.gui.app.main`
        exits without waiting for it, its QThread kept alive so that Qt does not abort).
        """
        if not self._closing and not self.confirm_discard_runs("quit"):
            event.ignore()
            return
        self._closing = True
        self.hide()
        self._redraw.stop()
        self._save_settings()
        if self.worker is not None:
            self.worker.cancel()
        if self._sweep_page.built_view is not None:  # a sweep never shown has nothing running
            self._sweep_page.built_view.cancel()  # its worker processes end now; the thread returns at once
        engine = sys.modules.get("mfstudio.spark.engine")  # looked up, not imported: no JVM just to quit
        if engine is not None:
            engine.stop_sessions()
        for task in list(self.tasks):
            task.cancel()
        wait_for_threads(CLOSE_WAIT_SECONDS)
        self.worker = None
        super().closeEvent(event)
