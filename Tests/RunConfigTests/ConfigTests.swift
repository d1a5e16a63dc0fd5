@testable import RunConfig
import XCTest

final class ConfigTests: XCTestCase {
    private let minimal = """
        model:
          kind: mlp
        data:
          dataset: synthetic_classes
        """

    func testDefaultsFillEveryApplicableKey() throws {
        let config = try ResolvedConfig.parse(yaml: minimal, source: "m.yaml")
        XCTAssertEqual(config.intList("model.hidden"), [1024, 1024])
        XCTAssertEqual(config.int("training.batch_size"), 128)
        XCTAssertEqual(config.string("optimizer.kind"), "sgd")
        XCTAssertNil(config.values["model.layers"], "GPT keys do not apply to an MLP")
        XCTAssertNil(config.values["optimizer.beta1"], "Adam keys do not apply to SGD")
    }

    func testUnknownKeyNamesFileLineAndSuggestion() {
        let yaml = minimal + "\ntraining:\n  batch_sise: 3\n"
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: yaml, source: "run.yaml")) { error in
            let error = error as! ConfigError
            XCTAssertEqual(error.line, 6)
            XCTAssertEqual(error.key, "training.batch_sise")
            XCTAssertTrue(error.description.hasPrefix("run.yaml:6: training.batch_sise: unknown key"), error.description)
            XCTAssertTrue(error.description.contains("did you mean training.batch_size?"), error.description)
        }
    }

    func testWrongTypeAndRangeAreRejected() {
        for (text, key) in [("training:\n  batch_size: many", "training.batch_size"),
                            ("training:\n  batch_size: 0", "training.batch_size"),
                            ("optimizer:\n  lr: -1", "optimizer.lr"),
                            ("model:\n  kind: rnn", "model.kind"),
                            ("training:\n  shuffle: maybe", "training.shuffle")] {
            let yaml = text.hasPrefix("model:") ? text + "\ndata:\n  dataset: mnist" : minimal + "\n" + text
            XCTAssertThrowsError(try ResolvedConfig.parse(yaml: yaml, source: "c.yaml"), text) { error in
                XCTAssertEqual((error as? ConfigError)?.key, key, "\(error)")
            }
        }
    }

    func testKeysOfAnotherModelAreRejected() {
        let yaml = minimal + "\nmodel:\n  layers: 3\n"
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: "model:\n  kind: mlp\n  layers: 3\ndata:\n  dataset: mnist\n",
                                                      source: "c.yaml")) { error in
            let error = error as! ConfigError
            XCTAssertEqual(error.key, "model.layers")
            XCTAssertEqual(error.line, 3)
            XCTAssertTrue(error.message.contains("model.kind"), error.message)
        }
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: yaml, source: "c.yaml"), "a section given twice")
    }

    func testOverridesUseTheSameKeysAndChecks() throws {
        let config = try ResolvedConfig.parse(yaml: minimal, source: "m.yaml",
                                              overrides: ["training.epochs=3", "model.hidden=[32, 16]", "optimizer.kind=adamw"])
        XCTAssertEqual(config.int("training.epochs"), 3)
        XCTAssertEqual(config.intList("model.hidden"), [32, 16])
        XCTAssertEqual(config.double("optimizer.beta2"), 0.999)
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: minimal, source: "m.yaml", overrides: ["training.epochs=-2"])) {
            XCTAssertEqual(($0 as? ConfigError)?.source, "--set")
        }
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: minimal, source: "m.yaml", overrides: ["epochs"]))
        // A lone number for a list key is refused with the expected form, not read as [5].
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: minimal, source: "m.yaml", overrides: ["model.hidden=5"])) {
            let error = $0 as? ConfigError
            XCTAssertEqual(error?.key, "model.hidden")
            XCTAssertTrue(error?.message.contains("like [1]") == true, "\(String(describing: error))")
        }
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: minimal, source: "m.yaml", overrides: ["model.layers=2"])) {
            XCTAssertEqual(($0 as? ConfigError)?.key, "model.layers")
        }
    }

    func testInvalidYAMLAndMissingRequiredKey() {
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: "model: [unclosed", source: "broken.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("broken.yaml:"), "\(error)")
        }
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: "model:\n  kind: mlp\n", source: "c.yaml")) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "data.dataset")
        }
        XCTAssertThrowsError(try ResolvedConfig.parse(yaml: minimal + "\ntraining:\n  epochs: 0\n", source: "c.yaml"))
        XCTAssertThrowsError(try ResolvedConfig.load(path: "/nonexistent/run.yaml")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/run.yaml"))
        }
    }

    func testDigestIsStableAndSensitive() throws {
        let a = try ResolvedConfig.parse(yaml: minimal, source: "a.yaml")
        let b = try ResolvedConfig.parse(yaml: minimal + "\n", source: "b.yaml")
        let c = try ResolvedConfig.parse(yaml: minimal, source: "a.yaml", overrides: ["training.seed=2"])
        XCTAssertEqual(a.digest, b.digest)
        XCTAssertNotEqual(a.digest, c.digest)
        XCTAssertEqual(try ResolvedConfig.parse(yaml: a.yaml, source: "round-trip").values, a.values)
    }

    func testShippedConfigsResolve() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let directory = root.appendingPathComponent("configs")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 6)
        for file in files {
            XCTAssertNoThrow(try ResolvedConfig.load(path: directory.appendingPathComponent(file).path), file)
        }
    }
}
