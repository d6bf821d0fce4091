export { renderReport, writeReport, type ReportInput, type ReportValidation, type ReportTable } from './report.js';
export { lineChart, barChart, histogramChart, type Series, type Bar, type LineChartOptions, type BarChartOptions } from './charts.js';
