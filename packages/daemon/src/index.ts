export { runMezd } from './mezd';
