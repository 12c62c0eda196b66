"""The client half of the `trainserve` CLI: talks to a running server over HTTP.

Nothing here imports the server code; the only contract is /work/shared/docs/api.md.
"""
