"""Schema-constrained decoding, in layers: pure automata, a vocabulary table, the proposal grammar
(none of them imports torch) and the torch processor that turns their per-row constraints into logits
masks. See :mod:`sidecar.engine.constrained.grammar` for how a proposal is decoded.
"""
