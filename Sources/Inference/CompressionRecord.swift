import Foundation

/// What was done to a compressed checkpoint, stored as JSON in the
/// `compression` entry of `model.safetensors`'s `__metadata__`.
///
/// The tensors describe themselves (an `I8` weight has a `.scale` beside
/// it; a factorized one is `.u` and `.v`), so the loader needs none of this;
/// it is for people and for `ddp inspect`.
public struct CompressionRecord: Codable, Equatable, Sendable {
    /// Magnitude pruning, if any.
    public struct Pruning: Codable, Equatable, Sendable {
        /// The requested fraction of weights removed.
        public var sparsity: Double
        /// `global` or `layer`.
        public var scope: String
        /// The measured fraction of zeros among the pruned matrices after fine-tuning.
        public var achieved: Double
        /// Fine-tuning steps taken with the mask held fixed.
        public var finetuneSteps: Int
        /// Their learning rate.
        public var finetuneLearningRate: Double?

        public init(sparsity: Double, scope: String, achieved: Double, finetuneSteps: Int, finetuneLearningRate: Double?) {
            (self.sparsity, self.scope, self.achieved) = (sparsity, scope, achieved)
            (self.finetuneSteps, self.finetuneLearningRate) = (finetuneSteps, finetuneLearningRate)
        }
    }

    /// One factorized matrix.
    public struct Factorization: Codable, Equatable, Sendable {
        /// The parameter, e.g. `layers.0.weight`.
        public var name: String
        /// The original `[rows, columns]`.
        public var shape: [Int]
        /// The kept rank.
        public var rank: Int
        /// The fraction of `Σ sᵢ²` kept.
        public var keptEnergy: Double

        public init(name: String, shape: [Int], rank: Int, keptEnergy: Double) {
            (self.name, self.shape, self.rank, self.keptEnergy) = (name, shape, rank, keptEnergy)
        }
    }

    /// The layout version of this record.
    public var format = 1
    /// The checkpoint it was made from.
    public var source: String
    public var pruning: Pruning?
    /// `int8` (symmetric, per output channel) or `nil`.
    public var quantization: String?
    /// How an int8 model computes, e.g. ``Self/dynamicInt8Activations``;
    /// `nil` for Float32 compute (and in records written before int8 compute).
    public var activations: String?
    /// The int8 compute of this version: activations quantized at run time
    /// and multiplied in integers.
    public static let dynamicInt8Activations = "uint8 per row (per image in convolutions), quantized at run time; int32 products"
    /// `energy 0.9` or `rank 32`, when low-rank factorization was asked for.
    public var lowRank: String?
    /// The matrices that were factorized (others were skipped: no saving).
    public var factorized: [Factorization]
    /// The matrices stored as int8.
    public var quantized: [String]

    public init(source: String, pruning: Pruning?, quantization: String?, lowRank: String?,
                factorized: [Factorization], quantized: [String]) {
        (self.source, self.pruning, self.quantization, self.lowRank) = (source, pruning, quantization, lowRank)
        (self.factorized, self.quantized) = (factorized, quantized)
    }

    /// The JSON text, keys sorted.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Parses the JSON `text`; `nil` if it is not a record.
    public static func parse(_ text: String) -> CompressionRecord? {
        try? JSONDecoder().decode(CompressionRecord.self, from: Data(text.utf8))
    }
}
