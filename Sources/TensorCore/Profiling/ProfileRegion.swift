// The named places of a training step that the kernel profile keeps apart.
// Regions are registered once (as static lets at their call sites) and
// measured by index, so a measured call costs two clock reads and no hashing.

import Foundation

/// A named place in a step whose time ``KernelProfile`` keeps apart.
public struct ProfileRegion: Sendable, Hashable {
    /// What a region's time is spent on, for grouping a profile.
    public enum Group: String, Sendable, Codable, CaseIterable {
        case matmul, attention, kernel, loss, optimizer, communication, data, other
    }

    /// The region's place in the registry, the index of its counters.
    public let index: Int

    /// The region named `name` in `group`, registered on first use; the same
    /// name always gives the same region.
    public init(_ name: String, group: Group) {
        index = ProfileRegistry.shared.index(of: name, group: group)
    }

    /// The region's name as registered.
    public var name: String { ProfileRegistry.shared.entry(index).name }
    /// The region's group as registered.
    public var group: Group { ProfileRegistry.shared.entry(index).group }
}

/// The matrix products of one fully connected layer, profiled apart: forward,
/// the input gradient and the weight gradient, which have different shapes.
public struct MatmulFamily: Sendable, Hashable {
    public let forward, inputGradient, weightGradient: ProfileRegion

    /// - Parameter name: The family, e.g. `"attention qkv"` or `"linear 784x1024"`.
    public init(_ name: String) {
        forward = ProfileRegion("\(name) forward", group: .matmul)
        inputGradient = ProfileRegion("\(name) input gradient", group: .matmul)
        weightGradient = ProfileRegion("\(name) weight gradient", group: .matmul)
    }
}

/// Every region registered in this process.
final class ProfileRegistry: @unchecked Sendable {
    static let shared = ProfileRegistry()

    private let lock = NSLock()
    private var entries: [(name: String, group: ProfileRegion.Group)] = []
    private var indices: [String: Int] = [:]

    func index(of name: String, group: ProfileRegion.Group) -> Int {
        lock.withLock {
            if let index = indices[name] { return index }
            entries.append((name, group))
            indices[name] = entries.count - 1
            return entries.count - 1
        }
    }

    func entry(_ index: Int) -> (name: String, group: ProfileRegion.Group) {
        lock.withLock { entries[index] }
    }

    var count: Int { lock.withLock { entries.count } }
}
