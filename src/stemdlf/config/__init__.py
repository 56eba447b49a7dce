"""The settings of the library and the workflow, each defined once.

The config's JSON schema (each setting's type, bounds, default and description), the settings
classes that check their values against it, and reading a workflow config file.
"""
