"""PyInstaller hook: torch_geometric's modules are collected as source (.py) as well as bytecode.

TorchScript reads the source of torch_geometric classes that SevenNet-0 (the default second potential)
uses at run time; without the .py files the frozen app cannot load it.
"""

module_collection_mode = "pyz+py"
