export * from './internal-pki';
export { CA_COMMON_NAME } from './issue-cert';
