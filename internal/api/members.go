package api

import (
	"net/http"

	"glint/internal/errs"
	"glint/internal/image"
)

func memberJSON(m *image.Member) map[string]any {
	return map[string]any{
		"image_id":   m.ImageID,
		"member_id":  m.MemberID,
		"status":     m.Status,
		"created_at": m.CreatedAt.UTC().Format(timeLayout),
		"updated_at": m.UpdatedAt.UTC().Format(timeLayout),
		"schema":     "/v2/schemas/member",
	}
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.images.Members(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := make([]any, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON(m))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"members": out, "schema": "/v2/schemas/members"})
}

func (s *Server) showMember(w http.ResponseWriter, r *http.Request) error {
	m, err := s.images.Member(r.Context(), r.PathValue("id"), r.PathValue("member"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, memberJSON(m))
}

// createMember answers 200, not 201, as Glance does.
func (s *Server) createMember(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.createMember"
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	v, ok := body["member"]
	if !ok {
		return errs.E(op, errs.Invalid, "Member to be added not specified")
	}
	id, ok := v.(string)
	if !ok {
		return errs.E(op, errs.Invalid, `Expected a member in the form: {"member": "image_id"}`)
	}
	if id == "" {
		return errs.E(op, errs.Invalid, "Member can't be empty")
	}
	if len(id) > 255 {
		return errs.E(op, errs.Invalid, "Member ID is too long: it is limited to 255 characters.")
	}
	m, err := s.images.AddMember(r.Context(), r.PathValue("id"), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, memberJSON(m))
}

func (s *Server) updateMember(w http.ResponseWriter, r *http.Request) error {
	const op errs.Op = "api.updateMember"
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	v, ok := body["status"]
	if !ok {
		return errs.E(op, errs.Invalid, "Status not specified")
	}
	status, ok := v.(string)
	if !ok {
		return errs.E(op, errs.Invalid, `Expected a status in the form: {"status": "status"}`)
	}
	m, err := s.images.UpdateMember(r.Context(), r.PathValue("id"), r.PathValue("member"), status)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, memberJSON(m))
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := s.images.DeleteMember(r.Context(), r.PathValue("id"), r.PathValue("member")); err != nil {
		return err
	}
	noContent(w)
	return nil
}
