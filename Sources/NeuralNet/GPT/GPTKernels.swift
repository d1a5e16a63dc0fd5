/// The forward and backward kernels of ``GPT``, on raw row-major buffers.
///
/// Each kernel takes pointers and extents and allocates nothing, so the model
/// can run them over one preallocated workspace step after step. Forward and
/// backward of a kernel sit side by side in one file. Backward kernels *add*
/// into parameter gradients (so micro-batches accumulate) and, unless a
/// kernel's documentation says otherwise, *overwrite* input gradients.
public enum GPTKernels {}
