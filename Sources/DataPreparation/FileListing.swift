import DataPipeline
import Foundation

/// The regular files under `folder`, recursively, sorted by path; names
/// starting with `.` (and everything under them) are skipped.
///
/// - Throws: ``DataError/unreadable(file:reason:)`` when `folder` cannot be listed.
func regularFiles(under folder: String) throws -> [String] {
    let manager = FileManager.default
    guard let walker = manager.enumerator(atPath: folder) else { throw DataError.unreadable(file: folder, reason: "cannot list") }
    var found: [String] = []
    while let relative = walker.nextObject() as? String {
        if (relative as NSString).lastPathComponent.hasPrefix(".") {
            walker.skipDescendants()
            continue
        }
        let path = folder + "/" + relative
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { found.append(path) }
    }
    return found.sorted()
}
