"""PyInstaller hook: opt_einsum_fx's modules are collected as source (.py) as well as bytecode.

TorchScript compiles opt_einsum_fx's scripted modules from their source at run time (SevenNet-0, the
default second potential, is built from them); without the .py files the frozen app
cannot load it (PyInstaller's own torch hook does the same for torch).
"""

module_collection_mode = "pyz+py"
