"""diffband evaluation: FAD (and FAD-inf), audio embeddings (mfcc-stats, VGGish in numpy),
melody measures (chroma, note F1), parameter sweeps and spectrogram plots.

Not part of what a host loads to run models: ``diffband.engine`` never imports it.
"""
