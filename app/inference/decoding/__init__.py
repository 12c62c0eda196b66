"""Request bytes to a model-ready batch, in three stages, each calling only the next:

``request`` (a whole JSON body or uploaded files) → ``instance`` (one item of
``instances``: pixel lists, base64, an image) → ``image`` (one encoded image: decode,
check, and, when ``preprocess`` is on, centre and scale the digit as MNIST's were).
"""
