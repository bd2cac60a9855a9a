package tl

// Definition is one constructor or method of the Telegram schema.
type Definition struct {
	// Name is the schema name, with namespace: "messages.sendMessage",
	// "inputPeerSelf".
	Name string
	// ID is the TL type id (crc32 of the definition).
	ID uint32
	// Type is the class a constructor belongs to ("InputPeer"), or the
	// result type of a method ("Updates", "Vector<User>", "Bool").
	Type string
	// Method reports a function, as opposed to a constructor.
	Method bool
	// Generic marks definitions with a type parameter ({X:Type}), the
	// invokeWith* wrappers.
	Generic bool
	// Params are the fields, in wire order.
	Params []Param
	// Doc is the method's description from the API documentation, if known.
	Doc string
	// BotCanUse reports that bots may call the method, per the documentation.
	BotCanUse bool
	// sharedBits: some flag bit guards more than one param. The registry
	// sets it (sharesBits); the JSON decoder then checks those params go
	// together.
	sharedBits bool
}

// Param is one field of a definition.
type Param struct {
	// Name is the schema field name ("random_id").
	Name string
	// Type is the TL type as written in the schema: "int", "long",
	// "string", "bytes", "Bool", "true", "#" (a flags field),
	// "Vector<InputUser>", "InputPeer", "!X".
	Type string
	// Flag names the flags field that makes this field optional; empty for a
	// required field.
	Flag string
	// Bit is the bit of Flag that says whether the field is present.
	Bit int
}

// Optional reports whether the field is conditional on a flag bit.
func (p Param) Optional() bool { return p.Flag != "" }

// IsFlags reports whether the field is a flags word (#).
func (p Param) IsFlags() bool { return p.Type == "#" }
