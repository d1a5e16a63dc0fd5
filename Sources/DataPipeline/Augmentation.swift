import Foundation
import TensorCore

/// Random transformations of training images, drawn from their own stream
/// of `(seed, epoch, sample index)`: a sample looks the same whichever rank
/// draws it and however many ranks there are, and a resumed run draws what
/// the uninterrupted one did.
public struct ImageAugmentation: Equatable, Sendable {
    /// Mirror left-right with probability 1/2.
    public var flip: Bool
    /// Pad by this many zero pixels and crop back at a random offset: a shift of up to this many pixels each way.
    public var cropPadding: Int
    /// Rotate about the centre by a random angle within ±this many degrees (bilinear, zeros outside).
    public var rotateDegrees: Double

    public init(flip: Bool = false, cropPadding: Int = 0, rotateDegrees: Double = 0) {
        precondition(cropPadding >= 0 && rotateDegrees >= 0, "ImageAugmentation: negative padding or angle")
        (self.flip, self.cropPadding, self.rotateDegrees) = (flip, cropPadding, rotateDegrees)
    }

    /// Whether any transformation is on.
    public var isActive: Bool { flip || cropPadding > 0 || rotateDegrees > 0 }

    /// Transforms one `[channels, height, width]` image in place.
    ///
    /// - Parameters:
    ///   - image: The pixels, overwritten.
    ///   - scratch: `channels * height * width` floats of workspace.
    ///   - generator: Draws this sample's flip, shift and angle, in that order.
    public func apply(_ image: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                      channels: Int, height: Int, width: Int, generator: inout RandomGenerator) {
        let mirrored = flip && generator.next() & 1 == 1
        let dx = cropPadding > 0 ? generator.nextIndex(below: 2 * cropPadding + 1) - cropPadding : 0
        let dy = cropPadding > 0 ? generator.nextIndex(below: 2 * cropPadding + 1) - cropPadding : 0
        let degrees = rotateDegrees > 0 ? (Double(generator.nextUniform()) * 2 - 1) * rotateDegrees : 0
        guard mirrored || dx != 0 || dy != 0 || degrees != 0 else { return }
        let plane = height * width
        scratch.update(from: image, count: channels * plane)
        let (sine, cosine) = (Float(sin(degrees * .pi / 180)), Float(cos(degrees * .pi / 180)))
        let (centreX, centreY) = (Float(width - 1) / 2, Float(height - 1) / 2)
        for y in 0..<height {
            for x in 0..<width {
                // Output (y, x) reads the input where flip, shift and rotation send it back to.
                let fx = Float(mirrored ? width - 1 - x : x) - Float(dx), fy = Float(y) - Float(dy)
                if degrees == 0 {
                    let sx = Int(fx), sy = Int(fy)
                    let inside = sx >= 0 && sx < width && sy >= 0 && sy < height
                    for c in 0..<channels {
                        image[c * plane + y * width + x] = inside ? scratch[c * plane + sy * width + sx] : 0
                    }
                    continue
                }
                let rx = cosine * (fx - centreX) + sine * (fy - centreY) + centreX
                let ry = -sine * (fx - centreX) + cosine * (fy - centreY) + centreY
                let x0 = Int(rx.rounded(.down)), y0 = Int(ry.rounded(.down))
                let ax = rx - Float(x0), ay = ry - Float(y0)
                for c in 0..<channels {
                    let source = scratch + c * plane
                    func at(_ yy: Int, _ xx: Int) -> Float {
                        xx >= 0 && xx < width && yy >= 0 && yy < height ? source[yy * width + xx] : 0
                    }
                    let top = at(y0, x0) * (1 - ax) + at(y0, x0 + 1) * ax
                    let bottom = at(y0 + 1, x0) * (1 - ax) + at(y0 + 1, x0 + 1) * ax
                    image[c * plane + y * width + x] = top * (1 - ay) + bottom * ay
                }
            }
        }
    }
}

/// A data set of `[channels, height, width]` images whose training samples
/// are transformed by an ``ImageAugmentation`` that depends on the epoch.
///
/// ``copySample(_:input:target:)`` (evaluation, inspection) gives the
/// untransformed image; ``copySample(_:epoch:input:target:)`` (the training
/// loader) the transformed one.
public final class AugmentedDataset: Dataset {
    public let base: Dataset
    public let augmentation: ImageAugmentation
    public let seed: UInt64

    /// - Parameters:
    ///   - base: Images of shape `[channels, height, width]`.
    ///   - augmentation: The transformations.
    ///   - seed: The run's seed.
    public init(_ base: Dataset, augmentation: ImageAugmentation, seed: UInt64) {
        precondition(base.inputShape.count == 3, "AugmentedDataset: inputs of shape \(base.inputShape) are not images")
        (self.base, self.augmentation, self.seed) = (base, augmentation, seed)
    }

    public var count: Int { base.count }
    public var inputShape: [Int] { base.inputShape }
    public var targetShape: [Int] { base.targetShape }
    public var classCount: Int? { base.classCount }

    public func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        base.copySample(index, input: input, target: target)
    }

    public func copySample(_ index: Int, epoch: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
        base.copySample(index, epoch: epoch, input: input, target: target)
        let shape = inputShape
        // A stream per (epoch, sample): independent of which rank asks and in what order.
        var generator = RandomGenerator(seed: seed, stream: 0xA06_0000_0000 ^ (UInt64(epoch) << 32) ^ UInt64(index))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: base.inputSize) { scratch in
            augmentation.apply(input, scratch: scratch.baseAddress!, channels: shape[0], height: shape[1], width: shape[2],
                               generator: &generator)
        }
    }
}
