"""Python's cyclic garbage collector runs on the GUI thread only, once the app exists.

A worker thread that triggered a collection destroyed Qt objects some window had left in a reference
cycle; Qt's destructor then waited for the GIL while the GUI thread held it and waited for Qt's lock,
and the suite froze in test_lifecycle (py-spy showed both stacks).
"""

from __future__ import annotations

import gc
import threading
import weakref


def test_cycles_dropped_while_a_worker_allocates_are_collected_on_the_gui_thread(qtbot):
    from mfstudio.gui.app import collect_garbage_on_the_gui_thread, create_app

    create_app()
    collector = collect_garbage_on_the_gui_thread()
    assert collector is collect_garbage_on_the_gui_thread()  # one per process
    assert not gc.isenabled() and collector.timer.isActive()

    collected_on = []

    class Node:
        pass

    node = Node()
    node.itself = node  # only the cyclic collector can free it
    weakref.finalize(node, lambda: collected_on.append(threading.current_thread() is threading.main_thread()))
    del node

    def allocate():  # far past generation 0's threshold: with automatic collection on, this thread would collect
        junk = [[] for _ in range(50 * gc.get_threshold()[0])]
        for item in junk:
            item.append(item)

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert collected_on == []  # the worker collected nothing
    qtbot.waitUntil(lambda: bool(collected_on), timeout=10_000)  # the GUI thread's timer did
    assert collected_on == [True]
