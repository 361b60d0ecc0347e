import { Route, Routes } from 'react-router';
import { Shell } from './Shell';
import { LoadingState } from './components/common';
import { SessionProvider } from './session';
import { AdminPage } from './pages/Admin';
import { AuditorHome, AuditorDeviation } from './pages/Auditor';
import { BatchesPage } from './pages/Batches';
import { BoardPage } from './pages/Board';
import { DeviationPage } from './pages/deviation/DeviationPage';
import { MonitoringPage } from './pages/Monitoring';
import { NotFoundPage } from './pages/NotFound';
import { OpenDeviationPage } from './pages/OpenDeviation';
import { SignInPage } from './pages/SignIn';
import { TasksPage } from './pages/Tasks';

/** Every route of the app (below /app). */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route
        element={
          <SessionProvider fallback={<LoadingState what="your session" />}>
            <Shell />
          </SessionProvider>
        }
      >
        <Route index element={<BoardPage />} />
        <Route path="deviations/new" element={<OpenDeviationPage />} />
        <Route path="deviations/:id" element={<DeviationPage />} />
        <Route path="tasks" element={<TasksPage />} />
        <Route path="batches" element={<BatchesPage />} />
        <Route path="audit" element={<AuditorHome />} />
        <Route path="audit/:id" element={<AuditorDeviation />} />
        <Route path="admin" element={<AdminPage />} />
        <Route path="monitoring" element={<MonitoringPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
