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
        XCTAssertEqual(config.run.model.architecture, .mlp(hidden: [1024, 1024], activation: .relu, loss: .crossEntropy))
        XCTAssertEqual(config.run.training.batchSize, 128)
        XCTAssertEqual(config.run.optimizer.method, .sgd(momentum: 0.9, nesterov: false))
        XCTAssertNil(config.values["model.layers"], "GPT keys do not apply to an MLP")
        XCTAssertNil(config.values["optimizer.beta1"], "Adam keys do not apply to SGD")
    }

    /// Every kind of every choice key builds its typed part: each case reads
    /// only keys that apply to it (a key that does not would trap here).
    func testTypedConfigOfEveryKind() throws {
        let cases: [(String, (RunConfig) -> Bool)] = [
            ("model:\n  kind: cnn\ndata:\n  dataset: mnist", { $0.model.architecture == .cnn(channels: [16, 32], fcWidth: 128) && $0.data.isImages }),
            ("model:\n  kind: gpt\ndata:\n  dataset: shakespeare",
             { $0.model.architecture == .gpt(layers: 4, heads: 4, width: 128, context: 128) && $0.model.isLanguageModel }),
            ("model:\n  kind: gpt\ndata:\n  dataset: synthetic_text\n  vocabulary: 7",
             { $0.data.source == .syntheticText(samples: 16_384, vocabulary: 7) }),
            ("model:\n  kind: mlp\n  loss: mse\n  activation: gelu\ndata:\n  dataset: csv\n  path: t.csv\n  label_column: 2",
             { $0.model.loss == .meanSquaredError && $0.data.source == .csv(path: "t.csv", labelColumn: 2) }),
            ("model:\n  kind: mlp\ndata:\n  dataset: iris\n  normalize: scale", { $0.data.source == .sklearn("iris") && $0.data.normalize == .scale }),
            (minimal + "\noptimizer:\n  kind: adam\n  eps: 0.001", { $0.optimizer.method == .adam(beta1: 0.9, beta2: 0.999, epsilon: 0.001, decoupled: false) }),
            (minimal + "\nschedule:\n  kind: step\n  gamma: 0.5", { $0.schedule == .step(every: 1000, gamma: 0.5) }),
            (minimal + "\nschedule:\n  kind: cosine\n  warmup_steps: 9", { $0.schedule == .cosine(warmupSteps: 9, minimumRate: 0) }),
            (minimal + "\nparallel:\n  gradient_dtype: bf16\n  transport: mpi\n  zero: 1",
             { $0.parallel.gradientDtype == .bf16 && $0.parallel.transport == .mpi && $0.parallel.zero == 1 }),
            (minimal + "\ntraining:\n  nonfinite: skip\ncheckpoint:\n  keep_last: 5",
             { $0.training.onAnomaly == .skip && $0.checkpoint.keepLast == 5 && $0.schedule == .constant }),
        ]
        for (yaml, holds) in cases {
            let config = try ResolvedConfig.parse(yaml: yaml, source: "k.yaml")
            XCTAssertTrue(holds(config.run), "\(yaml)\n\(config.run)")
        }
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
        XCTAssertEqual(config.run.training.epochs, 3)
        XCTAssertEqual(config.run.model.architecture, .mlp(hidden: [32, 16], activation: .relu, loss: .crossEntropy))
        XCTAssertEqual(config.run.optimizer.method, .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, decoupled: true))
        XCTAssertEqual(config.run.optimizer.kind, "adamw")
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
