"""Datasets: the catalog (built-ins and uploaded versions), upload formats, storage, the
service, and the loaders workers train on."""
