import React, { useEffect, useState } from 'react';
import { useMutation, useQuery, useSubscription } from '@apollo/client';
import { BOARD, BOARD_CHANGED, MOVE_TASK, ORGANIZATIONS } from './operations.js';
import { current, onChange, signIn, signOut } from './session.js';
import { client, liveClient } from './client.js';

function SignIn() {
  const [error, setError] = useState(null);
  async function submit(e) {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      await signIn(form.get('email'), form.get('password'));
    } catch (err) {
      setError(err.message);
    }
  }
  return (
    <form className="signin" onSubmit={submit}>
      <h2>Sign in to Crust</h2>
      <input name="email" type="email" placeholder="Email" data-testid="email" required />
      <input name="password" type="password" placeholder="Password" data-testid="password" required />
      <button type="submit" data-testid="sign-in">Sign in</button>
      {error && <p className="error" data-testid="error">{error}</p>}
    </form>
  );
}

function Projects({ onOpen }) {
  const { data, error } = useQuery(ORGANIZATIONS);
  if (error) return <p className="error">{error.message}</p>;
  if (!data) return <p>Loading…</p>;
  return data.organizations.nodes.map((org) => (
    <section key={org.id}>
      <h2>{org.name}</h2>
      <ul className="projects">
        {org.projects.nodes.map((p) => (
          <li key={p.id}>
            <button data-testid={`project-${p.name}`} onClick={() => onOpen(p.id)}>{p.name}</button>
          </li>
        ))}
      </ul>
    </section>
  ));
}

function Board({ projectId }) {
  const { data, error, refetch } = useQuery(BOARD, { variables: { projectId } });
  const [move] = useMutation(MOVE_TASK);
  const [told, setTold] = useState(0);
  const slice = data?.project.slices.nodes[0];
  // Changes made by anyone, as far as we may see them: fetch the board again.
  useSubscription(BOARD_CHANGED, {
    variables: { sliceId: slice?.id },
    skip: !slice,
    onData: () => {
      setTold((n) => n + 1);
      refetch();
    },
  });
  if (error) return <p className="error">{error.message}</p>;
  if (!slice) return <p>Loading…</p>;
  const columns = slice.boxes.nodes;
  return (
    <>
      <h2>{data.project.name} — {slice.name}</h2>
      <p className="live" data-testid="live">Live: {told} changes received</p>
      <div className="board">
        {columns.map((box) => (
          <div className="column" key={box.id} data-testid={`column-${box.name}`}>
            <h3>{box.name}</h3>
            {box.tasks.nodes.map((task) => (
              <div className="card" key={task.id} data-testid={`card-${task.title}`}>
                {task.title}
                <select
                  aria-label={`Move ${task.title}`}
                  data-testid={`move-${task.title}`}
                  value={box.id}
                  onChange={async (e) => {
                    await move({ variables: { taskId: task.id, boxId: e.target.value } });
                    refetch();
                  }}
                >
                  {columns.map((c) => (
                    <option key={c.id} value={c.id}>{c.name}</option>
                  ))}
                </select>
              </div>
            ))}
          </div>
        ))}
      </div>
    </>
  );
}

export default function App() {
  const [session, setSession] = useState(current());
  const [project, setProject] = useState(null);
  useEffect(() => onChange(setSession), []);
  if (!session) return <SignIn />;
  return (
    <>
      <header>
        <strong>Crust</strong>
        <span data-testid="user">{session.user.name}</span>
        <button
          data-testid="sign-out"
          onClick={async () => {
            try {
              await signOut();
            } catch (e) {
              alert(`Could not sign out: ${e.message}. Try again.`);
              return;
            }
            liveClient.terminate();
            await client.clearStore();
            setProject(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main>{project ? <Board projectId={project} /> : <Projects onOpen={setProject} />}</main>
    </>
  );
}
