"""The small web page served at ``/``: runs, a spec editor and a drawing pad for predictions."""
