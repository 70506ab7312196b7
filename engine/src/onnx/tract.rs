//! tract, the pure-Rust ONNX engine, running an ONNX model such as [`super::onnx_model`]'s: the
//! `tract` column of `bifsmn bench` and the ONNX export's parity test.

use prost::Message;
use tract_onnx::pb;
use tract_onnx::prelude::*;

use super::OnnxError;

/// An ONNX model optimised by tract for a fixed batch size, with its run state, ready to run
/// on one thread.
pub struct TractModel {
    state: TypedSimpleState,
    /// `[batch, 1, n_mels, frames]`.
    input_shape: [usize; 4],
    classes: usize,
}

fn tract_error(e: TractError) -> OnnxError {
    OnnxError::Tract(format!("{e:#}"))
}

/// A fixed dimension of the graph's only input (the batch size, dimension 0, is free).
fn input_dim(proto: &pb::ModelProto, axis: usize) -> Result<usize, OnnxError> {
    let dims = super::dims_of(proto.graph.as_ref().and_then(|g| g.input.first()));
    dims.get(axis)
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| OnnxError::Shape(format!("the ONNX input has no fixed size on axis {axis}")))
}

impl TractModel {
    /// Load ONNX `bytes` for `batch` clips per run: tract's optimised plan, on one thread.
    pub fn new(bytes: &[u8], batch: usize) -> Result<Self, OnnxError> {
        let proto = pb::ModelProto::decode(bytes)
            .map_err(|e| OnnxError::Tract(format!("decoding: {e}")))?;
        let input_shape = [batch, 1, input_dim(&proto, 2)?, input_dim(&proto, 3)?];
        let model = onnx()
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f32::fact(input_shape).into()))
            .and_then(|m| m.into_optimized())
            .map_err(tract_error)?;
        let classes = model
            .output_fact(0)
            .ok()
            .and_then(|f| f.shape.as_concrete().and_then(|s| s.last().copied()))
            .ok_or_else(|| OnnxError::Shape("the ONNX output has no fixed class count".into()))?;
        // tract's matrix products run on one thread unless its `multithread-mm` feature is
        // built and an executor is installed; naming the single-thread executor keeps the
        // bench's "one thread" true even if a future dependency turned that feature on.
        let options = RunOptions {
            executor: Some(multithread::Executor::SingleThread),
            ..Default::default()
        };
        let plan = model
            .into_runnable_with_options(&options)
            .map_err(tract_error)?;
        let state = TypedSimpleState::new(&plan).map_err(tract_error)?;
        Ok(Self {
            state,
            input_shape,
            classes,
        })
    }

    /// Values per run's input: `batch * n_mels * frames`.
    pub fn input_len(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Logits per run's output: `batch * classes`.
    pub fn output_len(&self) -> usize {
        self.input_shape[0] * self.classes
    }

    /// Run `features` (`batch` clips one after the other, as the bench's burn input) and write
    /// the logits (`batch x classes`, row-major) into `logits`.
    pub fn run(&mut self, features: &[f32], logits: &mut [f32]) -> Result<(), OnnxError> {
        if features.len() != self.input_len() || logits.len() != self.output_len() {
            return Err(OnnxError::Shape(format!(
                "{} features and {} logits given, the model takes {} and gives {}",
                features.len(),
                logits.len(),
                self.input_len(),
                self.output_len()
            )));
        }
        let input = Tensor::from_shape(&self.input_shape, features).map_err(tract_error)?;
        let out = self
            .state
            .run(tvec!(input.into_tvalue()))
            .map_err(tract_error)?;
        let out = out
            .first()
            .ok_or_else(|| OnnxError::Tract("no output".into()))?;
        let view = out.try_as_plain_ram().map_err(tract_error)?;
        let values = view.as_slice::<f32>().map_err(tract_error)?;
        if values.len() != logits.len() {
            return Err(OnnxError::Shape(format!(
                "tract gave {} logits, {} expected",
                values.len(),
                logits.len()
            )));
        }
        logits.copy_from_slice(values);
        Ok(())
    }
}
