/// Raw-buffer kernels in the style of llm.c: plain loops over
/// `UnsafeMutablePointer<Float>` that the compiler vectorizes, with no
/// allocation, so layers can call them in the hot path on preallocated
/// workspaces.
///
/// The kernels live in one namespace rather than as free functions so that
/// names like `sum`, `max` and `add` never compete with the standard
/// library's overloads at call sites in other modules. ``Tensor`` has
/// shape-checked conveniences over the same kernels.
///
/// Unless a kernel says otherwise, an output may alias an input exactly
/// (in-place use), but must not partially overlap it.
public enum Kernels {}
