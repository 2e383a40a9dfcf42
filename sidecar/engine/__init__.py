"""The sidecar's model runner: loading or building the model, the batcher, the decode loop and its
step backends (transformers, ONNX Runtime), sampling, constrained decoding and token streaming."""
