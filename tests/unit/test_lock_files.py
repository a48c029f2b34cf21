"""A topology's lock file goes with the topology (destroy removes it), and a
command that waited on the removed file takes the lock of the new one: no
two holders, no file left per topology ever destroyed."""
import os
import threading
import time

import pytest

from vnet import ownership
from vnet.errors import Busy


@pytest.fixture(autouse=True)
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("VNET_STATE_DIR", str(tmp_path))
    return tmp_path


def test_dropping_the_lock_file_while_another_waits_leaves_one_holder(state):
    got = []
    with ownership.lock("t1"):
        waiter = threading.Thread(target=lambda: _hold(got))
        waiter.start()
        time.sleep(0.2)
        assert got == []                     # it waits on the file we hold
        ownership.drop_lock("t1")            # a destroy, done: its lock file goes
        assert not (state / "t1.lock").exists()
    waiter.join(5)
    assert got == ["held"]
    assert (state / "t1.lock").exists()      # the waiter made the new file and held it


def _hold(got):
    with ownership.lock("t1", timeout=5):
        got.append("held")
        with pytest.raises(Busy):            # nobody else holds it meanwhile, on any file
            with ownership.lock("t1", timeout=0):
                pass


def test_no_lock_file_is_left_once_dropped(state):
    with ownership.lock("t2"):
        ownership.drop_lock("t2")
    ownership.drop_lock("t2")                # gone already: nothing to do
    assert os.listdir(state) == []
