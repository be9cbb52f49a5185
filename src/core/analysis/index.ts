/** Model analysis: summary (inspect), layer rules (inspect, language server, UI), weight statistics, quantized-model detection. */
export { summarizeModel, opKey, type ModelSummary, type IOInfo, type TensorEntry, type Tally, type SummaryOptions } from './summary';
export * from './layers';
export { analyzeQuantization, type QuantFormat, type QuantizationReport, type QuantizedTensor, type ScaleInfo, type ZeroPointInfo, type StoredRange } from './quantization';
export { elementTypes, type ElementTypes } from '../onnx/element-types';
