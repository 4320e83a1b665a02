export { runMezctl, type RunOptions } from './mezctl';
export { formatTable, formatJson, rfc3339 } from './output';
