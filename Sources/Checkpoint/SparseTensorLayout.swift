import Foundation

/// How a tensor with many zeros is stored so that the file shrinks with it,
/// in a layout any safetensors reader opens:
///
/// | stored            | dtype           | shape          | holds                                   |
/// |-------------------|-----------------|----------------|-----------------------------------------|
/// | `NAME.values`     | F32 or I8       | `[nonzeros]`   | the nonzero elements, row-major order   |
/// | `NAME.mask`       | U8              | `[⌈count/8⌉]`  | bit `i % 8` of byte `i / 8` (least significant first) set iff element `i` is nonzero |
///
/// and the dense shape in the file's `__metadata__` under `sparse`, a JSON
/// object of name to shape. In numpy: `dense = np.zeros(count, dtype);
/// dense[np.unpackbits(mask, bitorder="little")[:count] == 1] = values`.
/// An int8 tensor keeps its `NAME.scale` beside them.
///
/// One bit per element plus the nonzeros is smaller than the dense tensor
/// once more than a thirty-second of a Float32 tensor (an eighth of an int8
/// one) is zero; below that, tensors stay dense.
public enum SparseTensorLayout {
    /// The metadata key holding the dense shapes.
    public static let metadataKey = "sparse"

    /// The name of the nonzeros of `name`.
    public static func valuesName(_ name: String) -> String { name + ".values" }
    /// The name of the mask of `name`.
    public static func maskName(_ name: String) -> String { name + ".mask" }

    /// Bytes of the mask of `count` elements.
    public static func maskBytes(count: Int) -> Int { (count + 7) / 8 }

    /// Whether storing `count` elements of `elementSize` bytes, `nonzeros` of
    /// them nonzero, sparse takes fewer bytes than dense.
    public static func saves(count: Int, nonzeros: Int, elementSize: Int) -> Bool {
        nonzeros * elementSize + maskBytes(count: count) < count * elementSize
    }

    /// The mask and nonzeros of `values`.
    public static func split<Element: Numeric>(_ values: [Element]) -> (mask: [UInt8], nonzeros: [Element]) {
        var mask = [UInt8](repeating: 0, count: maskBytes(count: values.count))
        var nonzeros: [Element] = []
        for (i, value) in values.enumerated() where value != 0 {
            mask[i >> 3] |= 1 << UInt8(i & 7)
            nonzeros.append(value)
        }
        return (mask, nonzeros)
    }

    /// The dense `count` elements that `mask` and `nonzeros` describe, or
    /// `nil` when they disagree (a mask of the wrong length, or a count of
    /// set bits other than the number of nonzeros).
    public static func join<Element: Numeric>(mask: [UInt8], nonzeros: [Element], count: Int) -> [Element]? {
        guard mask.count == maskBytes(count: count) else { return nil }
        var dense = [Element](repeating: 0, count: count)
        var next = 0
        for i in 0..<count where mask[i >> 3] & (1 << UInt8(i & 7)) != 0 {
            guard next < nonzeros.count else { return nil }
            dense[i] = nonzeros[next]
            next += 1
        }
        return next == nonzeros.count ? dense : nil
    }

    /// The `sparse` metadata entry for these dense shapes.
    public static func metadata(_ shapes: [String: [Int]]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: shapes, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The dense shapes a `sparse` metadata entry lists, or `nil` if it is not such an entry.
    public static func shapes(_ text: String) -> [String: [Int]]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        var shapes: [String: [Int]] = [:]
        for (name, value) in object {
            guard let dims = value as? [Int], dims.allSatisfy({ $0 >= 0 }) else { return nil }
            shapes[name] = dims
        }
        return shapes
    }
}
