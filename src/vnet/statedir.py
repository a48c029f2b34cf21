"""Where vnet keeps what outlives one run: /run/vnet (the kernel state it
describes does not survive a reboot either); VNET_STATE_DIR overrides."""
import os


def state_dir():
    return os.environ.get("VNET_STATE_DIR", "/run/vnet")
