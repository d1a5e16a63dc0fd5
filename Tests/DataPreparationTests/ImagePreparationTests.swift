import DataPipeline
import DataPreparation
import DDPTestSupport
import Foundation
import TensorCore
import XCTest

/// `ddp prepare images` on class folders of PNG and JPEG files, and the augmentation of training images.
final class ImagePreparationTests: ScratchTestCase {
    override class var scratchPrefix: String { "ddp-prepare-images" }

    /// A gray image whose pixels encode its class and index.
    static func pixels(label: Int, index: Int, width: Int, height: Int, channels: Int) -> [UInt8] {
        (0..<(width * height * channels)).map { UInt8(truncatingIfNeeded: label * 50 + index * 3 + $0 % 17) }
    }

    /// `classes` folders of `perClass` PNG files each, 8x6 gray.
    private func writeFolder(classes: [String], perClass: Int) throws -> URL {
        let root = scratch.appendingPathComponent("images")
        for (label, name) in classes.enumerated() {
            let folder = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<perClass {
                let png = pngFile(width: 8, height: 6, channels: 1,
                                  pixels: Self.pixels(label: label, index: i, width: 8, height: 6, channels: 1))
                try Data(png).write(to: folder.appendingPathComponent(String(format: "%03d.png", i)))
            }
        }
        return root
    }

    private func options(_ change: (inout ImagePreparation.Options) -> Void = { _ in }) -> ImagePreparation.Options {
        var options = ImagePreparation.Options()
        options.quiet = true
        change(&options)
        return options
    }

    func testClassFoldersBecomeExactPixelsAndLabels() throws {
        let root = try writeFolder(classes: ["cat", "dog", "emu"], perClass: 5)
        try Data("not an image".utf8).write(to: root.appendingPathComponent("dog/README.md"))
        let output = scratch.appendingPathComponent("prepared").path
        let manifest = try ImagePreparation.prepare(folder: root.path, output: output, options: options { $0.shardImages = 4 })
        XCTAssertEqual(manifest.images?.classes, ["cat", "dog", "emu"])
        XCTAssertEqual(manifest.images?.shape, [1, 6, 8])
        XCTAssertEqual(manifest.count, 15)
        XCTAssertEqual(manifest.shards.map(\.count), [4, 4, 4, 3])
        let images = try PreparedImages(PreparedData(directory: output))
        for index in 0..<15 {
            let (label, i) = (index / 5, index % 5)
            let sample = images.sample(index)
            XCTAssertEqual(sample.target, [Float(label)])
            XCTAssertEqual(sample.input, Self.pixels(label: label, index: i, width: 8, height: 6, channels: 1).map(Float.init))
        }
    }

    func testJPEGColorAndOtherSizesAreFitted() throws {
        let root = scratch.appendingPathComponent("mixed")
        for name in ["a", "b"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        // A uniform RGB JPEG of another size and aspect ratio: cropping and scaling keep it uniform.
        let rgb = [UInt8](repeating: 0, count: 40 * 20 * 3).enumerated().map { [200, 100, 50][$0.offset % 3] as UInt8 }
        try Data(jpegFile(width: 40, height: 20, channels: 3, pixels: rgb)).write(to: root.appendingPathComponent("a/x.jpg"))
        try Data(pngFile(width: 10, height: 10, channels: 4, pixels: [UInt8](repeating: 90, count: 400)))
            .write(to: root.appendingPathComponent("b/y.PNG"))
        for fit in [ImageFit.crop, .resize] {
            let output = scratch.appendingPathComponent("fit-\(fit)").path
            let manifest = try ImagePreparation.prepare(folder: root.path, output: output, options: options {
                $0.size = (12, 12)
                $0.channels = 3
                $0.fit = fit
            })
            XCTAssertEqual(manifest.images?.shape, [3, 12, 12])
            let images = try PreparedImages(PreparedData(directory: output))
            let jpeg = images.sample(0).input
            for (c, expected) in [200, 100, 50].enumerated() {
                let plane = jpeg[(c * 144)..<((c + 1) * 144)]
                XCTAssertLessThan(plane.map { abs($0 - Float(expected)) }.max()!, 4, "channel \(c), \(fit)")
            }
            XCTAssertEqual(images.sample(1).input, [Float](repeating: 90, count: 3 * 144), "gray+alpha PNG repeats its gray")
        }
        // Gray output of the colour JPEG is its luma.
        let gray = scratch.appendingPathComponent("gray").path
        _ = try ImagePreparation.prepare(folder: root.path, output: gray, options: options { $0.channels = 1; $0.size = (4, 8) })
        let luma = try PreparedImages(PreparedData(directory: gray)).sample(0).input
        XCTAssertLessThan(luma.map { abs($0 - (0.299 * 200 + 0.587 * 100 + 0.114 * 50)) }.max()!, 4)
    }

    func testACorruptFileIsNamedOrSkippedAndCounted() throws {
        let root = try writeFolder(classes: ["a", "b"], perClass: 3)
        let corrupt = root.appendingPathComponent("b/001.png")
        var bytes = [UInt8](try Data(contentsOf: corrupt))
        bytes.removeLast(30)
        try Data(bytes).write(to: corrupt)
        let output = scratch.appendingPathComponent("strict").path
        XCTAssertThrowsError(try ImagePreparation.prepare(folder: root.path, output: output, options: options())) { error in
            XCTAssertTrue("\(error)".contains(corrupt.path) && "\(error)".contains("PNG"), "\(error)")
        }
        let lenient = scratch.appendingPathComponent("lenient").path
        let manifest = try ImagePreparation.prepare(folder: root.path, output: lenient, options: options { $0.skipCorrupt = true })
        XCTAssertEqual(manifest.count, 5)
        XCTAssertEqual(manifest.images?.skipped.map(\.file), [corrupt.path])
        XCTAssertTrue(manifest.images?.skipped.first?.reason.hasPrefix("PNG:") ?? false)
        let images = try PreparedImages(PreparedData(directory: lenient))
        XCTAssertEqual((0..<5).map { images.sample($0).target[0] }, [0, 0, 0, 1, 1])
    }

    func testAnInterruptedPreparationResumes() throws {
        let root = try writeFolder(classes: ["a", "b", "c"], perClass: 4)
        let whole = try ImagePreparation.prepare(folder: root.path, output: scratch.appendingPathComponent("whole").path,
                                                 options: options { $0.shardImages = 2 })
        let output = scratch.appendingPathComponent("resumed").path
        XCTAssertThrowsError(try ImagePreparation.prepare(folder: root.path, output: output,
                                                          options: options { $0.shardImages = 2; $0.stopAfterShards = 2 }))
        let resumed = try ImagePreparation.prepare(folder: root.path, output: output, options: options { $0.shardImages = 2 })
        XCTAssertEqual(resumed.shards, whole.shards)
    }

    // MARK: augmentation

    private func image(_ values: [Float], epoch: Int, index: Int, _ augmentation: ImageAugmentation, seed: UInt64 = 3) -> [Float] {
        final class Fixed: Dataset {
            let values: [Float]
            init(_ values: [Float]) { self.values = values }
            var count: Int { 100 }
            var inputShape: [Int] { [2, 4, 5] }
            var targetShape: [Int] { [] }
            var classCount: Int? { 2 }
            func copySample(_ index: Int, input: UnsafeMutablePointer<Float>, target: UnsafeMutablePointer<Float>) {
                input.update(from: values, count: values.count)
                target[0] = 1
            }
        }
        let dataset = AugmentedDataset(Fixed(values), augmentation: augmentation, seed: seed)
        var input = [Float](repeating: -1, count: 40), target: [Float] = [0]
        input.withUnsafeMutableBufferPointer { i in
            target.withUnsafeMutableBufferPointer { t in dataset.copySample(index, epoch: epoch, input: i.baseAddress!, target: t.baseAddress!) }
        }
        return input
    }

    func testAugmentationDependsOnlyOnSeedEpochAndSample() {
        let values = (0..<40).map { Float($0) + 1 }
        let all = ImageAugmentation(flip: true, cropPadding: 2, rotateDegrees: 10)
        // The same (seed, epoch, sample) draws the same transformation, whoever asks and in whatever order.
        XCTAssertEqual(image(values, epoch: 3, index: 17, all), image(values, epoch: 3, index: 17, all))
        let variants = Set((0..<8).map { image(values, epoch: $0, index: 17, all) })
        XCTAssertGreaterThan(variants.count, 4, "epochs should draw different transformations")
        XCTAssertNotEqual(image(values, epoch: 3, index: 17, all), image(values, epoch: 3, index: 18, all))
        XCTAssertNotEqual(image(values, epoch: 3, index: 17, all), image(values, epoch: 3, index: 17, all, seed: 4))

        // A flip alone mirrors each row of each channel exactly, or leaves the image alone.
        let mirrored = (0..<40).map { i -> Float in
            let (row, column) = (i / 5, i % 5)
            return values[row * 5 + (4 - column)]
        }
        let flips = (0..<16).map { image(values, epoch: $0, index: 0, ImageAugmentation(flip: true)) }
        XCTAssertTrue(flips.allSatisfy { $0 == values || $0 == mirrored })
        XCTAssertTrue(flips.contains(values) && flips.contains(mirrored))
        // A shift moves pixels by whole positions and fills with zeros; every kept value is an input value.
        for epoch in 0..<8 {
            let shifted = image(values, epoch: epoch, index: 1, ImageAugmentation(cropPadding: 1))
            XCTAssertTrue(shifted.allSatisfy { $0 == 0 || values.contains($0) })
            XCTAssertGreaterThanOrEqual(shifted.filter { $0 != 0 }.count, 2 * 3 * 4)
        }
        // The untransformed view (evaluation) is the base sample.
        let dataset = AugmentedDataset(SubsetDataset(SyntheticClassification(count: 4, inputShape: [1, 3, 3], classCount: 2, seed: 1),
                                                     indices: [0, 1, 2, 3]), augmentation: all, seed: 1)
        XCTAssertEqual(dataset.sample(2).input, dataset.base.sample(2).input)
    }
}
