export { buildExampleModel, writeExample, exampleData, trainExample, EXAMPLE_LABELS, type ExampleFiles } from './classifier.js';
