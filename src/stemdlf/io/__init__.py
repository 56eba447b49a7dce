"""Reading and writing the files a microscopist has.

Calibrated TIFF stacks, microscope files (Velox ``.emd``, Gatan ``.dm3``/``.dm4``, TIA
``.ser``), the data contract of a dataset folder (FOV discovery and validation), the checks
that refuse bad input before any work starts, and atomic writes so that no output is ever left
half-written.
"""
