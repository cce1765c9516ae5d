// Every operation the app sends. The build turns them into the trusted-document
// manifest (`npm run manifest`), which the server loads (CRUST_TRUSTED_DOCUMENTS).
import { gql } from '@apollo/client';

export const ORGANIZATIONS = gql`
  query Organizations {
    organizations(first: 20) {
      nodes {
        id
        name
        projects(first: 50) { nodes { id name } }
      }
    }
  }
`;

export const BOARD = gql`
  query Board($projectId: ID!) {
    project(id: $projectId) {
      id
      name
      slices(first: 5) {
        nodes {
          id
          name
          boxes(first: 10) {
            nodes {
              id
              name
              tasks(first: 50) { nodes { id title status } }
            }
          }
        }
      }
    }
  }
`;

export const MOVE_TASK = gql`
  mutation MoveTask($taskId: ID!, $boxId: ID!) {
    moveTask(input: { taskId: $taskId, boxId: $boxId, position: 0 }) {
      task { id box { id } }
    }
  }
`;

export const BOARD_CHANGED = gql`
  subscription BoardChanged($sliceId: ID) {
    boardChanged(sliceId: $sliceId) {
      kind
      taskId
      task { id title status boxId position }
    }
  }
`;
