import DataPipeline
import Foundation

/// `ddp prepare images`: a folder with one subfolder per class, of PNG and
/// JPEG files, to `uint8` shards of one size.
public enum ImagePreparation {
    public struct Options: Sendable {
        /// `(height, width)`; `nil` takes the first image's.
        public var size: (height: Int, width: Int)?
        /// 1 or 3; `nil` takes the first image's (1 for gray, 3 for color).
        public var channels: Int?
        public var fit: ImageFit = .crop
        /// Leave out (and list in the manifest) files that cannot be decoded, instead of stopping.
        public var skipCorrupt = false
        /// Images per shard; `nil` for about 64 MB per shard.
        public var shardImages: Int?
        public var quiet = false
        /// A test hook: fail once this many shards are written, leaving a partial run to resume.
        public var stopAfterShards: Int?

        public init() {}
    }

    struct Cursor: Codable, Equatable {
        /// The next file to read, an index into the sorted file list.
        var nextFile: Int
        var skipped: [PreparedManifest.SkippedFile]
    }

    static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Prepares the class folders of `folder` into `output`.
    ///
    /// - Returns: The manifest written.
    /// - Throws: ``PrepareError`` naming the folder or file at fault.
    public static func prepare(folder: String, output: String, options: Options) throws -> PreparedManifest {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrepareError.invalid("\(folder) is not a directory (expected one subfolder per class)")
        }
        let classes = try wrapped { try subdirectories(of: folder) }
        guard !classes.isEmpty else { throw PrepareError.invalid("\(folder) has no class subfolders") }
        var files: [(path: String, label: Int)] = []
        for (label, name) in classes.enumerated() {
            let images = try wrapped { try imageFiles(in: folder + "/" + name) }
            guard !images.isEmpty else { throw PrepareError.invalid("class folder \(folder)/\(name) holds no PNG or JPEG files") }
            files += images.map { ($0, label) }
        }

        // The size and channels: given, or the first decodable image's.
        var height = options.size?.height, width = options.size?.width, channels = options.channels
        if height == nil || channels == nil {
            var first: DecodedImage?
            for file in files {
                if let image = try? decode(file.path) { first = image; break }
                if !options.skipCorrupt { _ = try wrapped { try decode(file.path) } }
            }
            guard let first else { throw PrepareError.invalid("no image under \(folder) can be decoded") }
            if height == nil { (height, width) = (first.height, first.width) }
            if channels == nil { channels = first.channels >= 3 ? 3 : 1 }
        }
        guard let height, let width, let channels, height > 0, width > 0, height <= 4096, width <= 4096 else {
            throw PrepareError.invalid("--size must be between 1x1 and 4096x4096")
        }
        guard channels == 1 || channels == 3 else { throw PrepareError.invalid("--channels must be 1 or 3, got \(channels)") }
        let sampleBytes = channels * height * width
        let perShard = options.shardImages ?? max(1, (64 << 20) / sampleBytes)
        guard perShard >= 1 else { throw PrepareError.invalid("--shard-images must be at least 1") }
        let optionTable = ["size": "\(height)x\(width)", "channels": "\(channels)", "fit": options.fit.rawValue,
                           "skip_corrupt": "\(options.skipCorrupt)", "shard_images": "\(perShard)"]
        let sizes = files.map { fileSize($0.path) }
        let out = try ShardedOutput<Cursor>(output: output, inputs: Dictionary(uniqueKeysWithValues: zip(files.map(\.path), sizes)),
                                            options: optionTable)
        out.stopAfterShards = options.stopAfterShards
        var cursor = out.cursor ?? Cursor(nextFile: 0, skipped: [])
        let meter = ProgressMeter(total: sizes.reduce(0, +), label: "images", quiet: options.quiet)
        var pixels: ShardFileWriter?, labels: ShardFileWriter?
        var inShard = 0
        var doneBytes = sizes.prefix(cursor.nextFile).reduce(0, +)
        while cursor.nextFile < files.count {
            let (path, label) = files[cursor.nextFile]
            cursor.nextFile += 1
            doneBytes += sizes[cursor.nextFile - 1]
            let image: DecodedImage
            do {
                image = try decode(path)
            } catch let error as DataError {
                guard options.skipCorrupt else { throw PrepareError.data(error) }
                cursor.skipped.append(.init(file: path, reason: reason(error)))
                continue
            }
            if pixels == nil { (pixels, labels) = (try out.writer("bin"), try out.writer("labels")) }
            let planar = image.planar(channels: channels, height: height, width: width, fit: options.fit)
            try planar.withUnsafeBufferPointer { try pixels!.append($0) }
            try [UInt32(label).littleEndian].withUnsafeBufferPointer { try labels!.append($0) }
            inShard += 1
            if inShard == perShard || cursor.nextFile == files.count {
                try out.finish(.init(count: inShard, data: try pixels!.finish(), labels: try labels!.finish()), cursor: cursor)
                (pixels, labels, inShard) = (nil, nil, 0)
            }
            meter.update(doneBytes)
        }
        if inShard > 0 {
            try out.finish(.init(count: inShard, data: try pixels!.finish(), labels: try labels!.finish()), cursor: cursor)
        }
        meter.update(meter.total)
        meter.finish()
        let skipped = cursor.skipped
        let count = out.shards.reduce(0) { $0 + $1.count }
        guard count > 0 else { throw PrepareError.invalid("no image under \(folder) can be decoded (\(skipped.count) skipped)") }
        let manifest = PreparedManifest(
            kind: .images, count: count,
            shardCount: perShard, shards: out.shards,
            source: .init(inputs: [folder], bytes: sizes.reduce(0, +), options: optionTable), text: nil,
            images: .init(shape: [channels, height, width], classes: classes, fit: options.fit, skipped: skipped), table: nil)
        try out.publish(manifest)
        return manifest
    }

    private static func decode(_ path: String) throws -> DecodedImage {
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError.unreadable(file: path, reason: "cannot be read") }
        return try DecodedImage.decode([UInt8](data), source: path)
    }

    private static func reason(_ error: DataError) -> String {
        if case .badImage(_, let reason) = error { return reason }
        return error.description
    }

    /// The non-hidden subdirectories of `folder`, sorted.
    static func subdirectories(of folder: String) throws -> [String] {
        let names = try contents(of: folder)
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    /// The PNG and JPEG files under `folder` (recursively), sorted by path.
    static func imageFiles(in folder: String) throws -> [String] {
        try regularFiles(under: folder).filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }
    }

    private static func contents(of folder: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw DataError.unreadable(file: folder, reason: "cannot list")
        }
    }
}
